//! `cargo xtask serve`: build and run the component locally on a real WASI HTTP host.
//!
//! Uses `spin up` when Spin is installed (the component as Spin runs it in production),
//! otherwise `wasmtime serve` with the composed component (same component, variables from
//! the environment). Spin variables can be set with `SPIN_VARIABLE_<NAME>` in the
//! environment either way.

use std::process::Command;

use anyhow::{bail, Result};
use clap::Args;

use crate::paths::root;
use crate::setup::{self, SetupArgs};
use crate::{artifacts, run};

#[derive(Args)]
pub struct ServeArgs {
    /// Loopback port for the component.
    #[arg(long, env = "NAME_API_PORT", default_value_t = 3000)]
    pub port: u16,
    /// Host to run on: `auto` picks spin when installed, else wasmtime.
    #[arg(long, value_parser = ["auto", "spin", "wasmtime"], default_value = "auto")]
    pub host: String,
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let tools = setup::ensure(&SetupArgs { serve_only: true })?;
    let addr = format!("127.0.0.1:{}", args.port);
    let use_spin = match args.host.as_str() {
        "spin" => true,
        "wasmtime" => false,
        _ => tools.spin.is_some(),
    };
    let mut host = if use_spin {
        let Some(spin) = tools.spin else {
            bail!("spin is not on PATH")
        };
        let mut cmd = Command::new(spin);
        cmd.current_dir(root())
            .args(["up", "--build", "--listen", &addr]);
        cmd
    } else {
        let Some(wasmtime) = tools.wasmtime else {
            bail!("wasmtime is not installed")
        };
        let built = artifacts::build(true)?;
        let mut cmd = Command::new(wasmtime);
        cmd.args(wasmtime_serve_args(&addr)).arg(&built.composed);
        cmd
    };
    println!();
    println!(
        "name-api on {}:",
        if use_spin {
            "spin up"
        } else {
            "wasmtime serve"
        }
    );
    println!("  docs:      http://{addr}/docs");
    println!("  API:       http://{addr}/generate_name?starts_with=N");
    println!("  OpenAPI:   http://{addr}/openapi.json");
    println!("Ctrl-C stops it.");
    run(&mut host)
}

/// The `wasmtime serve` flags the component needs: `-Scli` links `wasi:cli/*` (Rust's std
/// and the variables plug use it); every `SPIN_VARIABLE_*` of this process is passed on.
pub fn wasmtime_serve_args(addr: &str) -> Vec<String> {
    let mut args = vec![
        "serve".to_owned(),
        "-Scli".to_owned(),
        "-Opooling-allocator=y".to_owned(),
        "--addr".to_owned(),
        addr.to_owned(),
    ];
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str().filter(|n| n.starts_with("SPIN_VARIABLE_")) {
            args.extend(["--env".to_owned(), name.to_owned()]);
        }
    }
    args
}
