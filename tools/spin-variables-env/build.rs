//! A small linear-memory stack for the plug (Rust's default is 1 MiB): it only formats a
//! name and reads the environment, and a smaller memory makes each instantiation cheaper.

fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("wasm32")) {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={}", 64 * 1024);
    }
}
