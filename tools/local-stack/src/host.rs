//! The WASI hosts that run the component: `wasmtime serve` with the composed component
//! (Spin variables from the environment, read by the variables plug) and `spin up`.
//!
//! Spin's environment provider maps a variable `backend_key` to `SPIN_VARIABLE_BACKEND_KEY`;
//! the plug follows the same rule, written once here ([`spin_variable_env`]).

use std::path::Path;
use std::process::Command;

use crate::repo_root;

/// How `wasmtime serve` runs the component in production shape (serve, bench, soak,
/// verify): `-Scli` links `wasi:cli/*` (Rust's std and the variables plug import it); the
/// pooling allocator reuses instance slots, and keeping the first MiB of each linear memory
/// resident resets it with a memset instead of fresh page faults on every request (about
/// +50% requests/s here, measured by `cargo xtask bench`).
pub const PRODUCTION_FLAGS: [&str; 4] = [
    "-Scli",
    "-Opooling-allocator=y",
    "-Opooling-memory-keep-resident=1048576",
    "-Opooling-table-keep-resident=65536",
];

/// Only what the component needs to run (`wasi:cli/*`): what the integration tests use,
/// where many short-lived hosts run side by side and throughput does not matter.
pub const MINIMAL_FLAGS: [&str; 1] = ["-Scli"];

/// The environment variable that carries Spin variable `name` (`backend_key` ->
/// `SPIN_VARIABLE_BACKEND_KEY`), as Spin's environment provider names it.
pub fn spin_variable_env(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_uppercase())
}

/// `wasmtime serve` for `wasm` on `addr` (`127.0.0.1:PORT`) with `flags`, and the Spin
/// `variables` (by Spin name, e.g. `("backend_key", "...")`) passed through the environment:
/// `--env SPIN_VARIABLE_<NAME>` on the command line, never the value.
pub fn wasmtime_serve<N: AsRef<str>, V: AsRef<str>>(
    wasmtime: &Path,
    wasm: &Path,
    addr: &str,
    flags: &[&str],
    variables: &[(N, V)],
) -> Command {
    let mut cmd = Command::new(wasmtime);
    cmd.arg("serve").args(flags).args(["--addr", addr]);
    for (name, value) in variables {
        let env = spin_variable_env(name.as_ref());
        cmd.args(["--env", &env]).env(env, value.as_ref());
    }
    cmd.arg(wasm);
    cmd
}

/// `spin up --listen ADDR` in the repository root (so `spin.toml` is found). Add `--build`
/// or `--from SOURCE`, and the variables' source (a `--runtime-config-file`, or
/// `SPIN_VARIABLE_*` in the environment).
pub fn spin_up(spin: &Path, addr: &str) -> Command {
    let mut cmd = Command::new(spin);
    cmd.current_dir(repo_root())
        .arg("up")
        .args(["--listen", addr]);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn variables_go_through_the_environment_never_argv() {
        let cmd = wasmtime_serve(
            Path::new("wasmtime"),
            Path::new("app.wasm"),
            "127.0.0.1:3000",
            &MINIMAL_FLAGS,
            &[("backend_key", "s3cret"), ("api_base", "/api")],
        );
        assert_eq!(
            args(&cmd),
            [
                "serve",
                "-Scli",
                "--addr",
                "127.0.0.1:3000",
                "--env",
                "SPIN_VARIABLE_BACKEND_KEY",
                "--env",
                "SPIN_VARIABLE_API_BASE",
                "app.wasm"
            ]
        );
        let env: Vec<_> = cmd.get_envs().collect();
        assert!(env.contains(&(
            "SPIN_VARIABLE_BACKEND_KEY".as_ref(),
            Some("s3cret".as_ref())
        )));
        assert!(env.contains(&("SPIN_VARIABLE_API_BASE".as_ref(), Some("/api".as_ref()))));
    }

    #[test]
    fn spin_up_runs_in_the_repository_root() {
        let cmd = spin_up(Path::new("spin"), "127.0.0.1:3000");
        assert_eq!(args(&cmd), ["up", "--listen", "127.0.0.1:3000"]);
        assert_eq!(cmd.get_current_dir(), Some(repo_root().as_path()));
        assert!(repo_root().join("spin.toml").is_file());
    }
}
