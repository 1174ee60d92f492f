//! The integration tests, as one binary (ripgrep's layout): the harness in [`common`]
//! compiles once and every part of it is used.
//!
//! Most of them run the real component on `wasmtime serve`, the emulator, Chromium or
//! schemathesis, which `cargo xtask test` builds and installs. They are compiled only with
//! the `host-tests` feature, which `cargo xtask test` turns on; a plain `cargo test` runs
//! the rest and lists them as the one ignored test `host_tests`.

mod spin_manifest;

#[cfg(feature = "host-tests")]
mod common;
#[cfg(feature = "host-tests")]
mod component_artifact;
#[cfg(feature = "host-tests")]
mod docs_browser;
#[cfg(feature = "host-tests")]
mod gateway;
#[cfg(feature = "host-tests")]
mod http_contract;
#[cfg(feature = "host-tests")]
mod openapi_conformance;
#[cfg(feature = "host-tests")]
mod rotation;
#[cfg(feature = "host-tests")]
mod security;

#[cfg(not(feature = "host-tests"))]
#[test]
#[ignore = "needs the built component, wasmtime, the emulator, Chromium and schemathesis: run `cargo xtask test`"]
fn host_tests() {
    panic!(
        "the host tests are compiled only with `--features host-tests`; \
         `cargo xtask test` builds what they need and runs them with it"
    );
}
