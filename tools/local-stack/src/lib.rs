//! One way to start name-api's local stack: the component on a WASI host (`wasmtime serve`
//! or `spin up`) and `apim-emulator` in front of it.
//!
//! `cargo xtask serve`, `soak`, `bench` and `verify`, and the integration tests under
//! `tests/`, all start these processes; this crate is where their command lines, the
//! `SPIN_VARIABLE_*` naming and the emulator's environment are written, once. It offers the
//! primitives (a [`Command`](std::process::Command) for each program, a readiness wait, a
//! [`Guard`] that stops a child) and the [`Stack`] made of them. It is native only: the
//! root package uses it as a dev-dependency, never as a dependency of the component.
//!
//! Secrets (backend credentials, subscription keys) go to the children through the
//! environment or a 0600 file, never on a command line.

pub mod credentials;
pub mod emulator;
pub mod guard;
pub mod host;
pub mod ready;
pub mod stack;

use std::path::{Path, PathBuf};

pub use credentials::{Credentials, RuntimeConfigFile};
pub use emulator::emulator_command;
pub use guard::Guard;
pub use host::{spin_up, spin_variable_env, wasmtime_serve, MINIMAL_FLAGS, PRODUCTION_FLAGS};
pub use ready::{raw_get, spawn_ready, wait_for_200, NotReady};
pub use stack::{HostProgram, Output, Stack, StackOptions};

/// The repository root (this crate sits two levels below it): `spin up` runs there, and
/// the emulator reads the API declarations and policies under its `infra/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tools/local-stack sits two levels below the root")
        .to_path_buf()
}
