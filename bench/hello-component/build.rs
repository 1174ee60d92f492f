//! The floor is built like name-api (see the root `build.rs`): the same 128 KiB stack, so
//! "within 10% of hello world" compares handlers, not memory sizes. `bench/hello-default`
//! is the same source with Rust's default 1 MiB stack.

const WASM_STACK_BYTES: u32 = 128 * 1024;

fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("wasm32")) {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={WASM_STACK_BYTES}");
    }
}
