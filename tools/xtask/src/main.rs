//! `cargo xtask`: the project's developer tasks, as a Rust program (no shell scripts).
//!
//! `cargo xtask serve` runs the service locally; `cargo xtask test` runs every test. The
//! other commands are the steps they are made of.

mod artifacts;
mod bench;
mod fuzz;
mod letters;
mod openapi;
mod paths;
mod procs;
mod serve;
mod setup;
mod soak;
mod testing;
mod vendor;
mod verify;

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "name-api developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what is missing (wasm target, wasmtime, test tools), build and serve locally.
    Serve(serve::ServeArgs),
    /// Install what is missing and run the whole test suite.
    Test(testing::TestArgs),
    /// Benchmark against FastAPI, a native baseline and a hello-world component (not a test).
    Bench(bench::BenchArgs),
    /// Fuzz request parsing and the policy loader (libFuzzer, bounded time).
    Fuzz(fuzz::FuzzArgs),
    /// Bounded load and soak through the gateway: mixed requests, memory, rate limit.
    Soak(soak::SoakArgs),
    /// Build the component, the variables plug, and their composition.
    Build {
        /// Leave the Swagger UI assets out (to measure their cost).
        #[arg(long)]
        no_docs: bool,
    },
    /// Regenerate static-docs/openapi.json from the code (or check it is current).
    Openapi {
        #[arg(long)]
        check: bool,
    },
    /// Vendor Swagger UI from npm into static-docs/ (or check the committed copy).
    VendorDocs {
        #[arg(long)]
        check: bool,
    },
    /// Regenerate src/letters_table.rs from regex-syntax (or check it is current).
    Letters {
        #[arg(long)]
        check: bool,
    },
    /// Check a gateway (the emulator or a deployed API Management) against the contract.
    Verify(verify::VerifyArgs),
    /// Install the tools the tests need (idempotent).
    Setup(setup::SetupArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Serve(args) => serve::serve(args),
        Task::Test(args) => testing::test_all(args),
        Task::Bench(args) => bench::bench(args),
        Task::Soak(args) => soak::soak(args),
        Task::Fuzz(args) => fuzz::fuzz(&args),
        Task::Build { no_docs } => {
            let built = artifacts::build(!no_docs)?;
            for path in [&built.component, &built.composed] {
                let size = std::fs::metadata(path)?.len();
                println!("{} ({} bytes)", path.display(), size);
            }
            Ok(())
        }
        Task::Openapi { check } => openapi::run(check),
        Task::Letters { check } => letters::run(check),
        Task::VendorDocs { check } => vendor::run_vendor(check),
        Task::Verify(args) => verify::run(args),
        Task::Setup(args) => setup::ensure(&args).map(|_| ()),
    }
}

/// Run a command to completion, failing with its command line if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
