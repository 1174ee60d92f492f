//! `cargo xtask test`: the whole test suite, as CI runs it.
//!
//! Installs what is missing (see `setup`), then: formatting, clippy (native and wasm),
//! the OpenAPI and vendored-docs drift checks, the OWASP lint of the OpenAPI document, the
//! offline infrastructure checks and their self-test, the release build of the component
//! and its composition, `cargo test` over the workspace with the `host-tests` feature, and
//! `cargo xtask verify` (the black-box gateway suite) against the emulator.
//! The integration tests in `tests/` start the real component on `wasmtime serve` and
//! drive it over loopback HTTP, with Chromium (Playwright) and schemathesis; they find the
//! artifacts and tools through the environment variables set here.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::paths::root;
use crate::procs::cargo;
use crate::setup::{self, SetupArgs};
use crate::{artifacts, letters, openapi, run, vendor};

/// The feature that compiles the integration tests needing what this task builds.
const HOST_TESTS: &str = "name-api/host-tests";

#[derive(Args)]
pub struct TestArgs {
    /// Skip the checks that need the npm registry (the vendored Swagger UI comparison).
    #[arg(long)]
    pub offline: bool,
    /// Seconds of fuzzing per target (libFuzzer); 0 skips fuzzing.
    #[arg(long, default_value_t = 15)]
    pub fuzz_seconds: u64,
    /// Extra arguments for `cargo test` (e.g. a test name filter), after `--`.
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

pub fn test_all(args: TestArgs) -> Result<()> {
    let started = Instant::now();
    let tools = setup::ensure(&SetupArgs::default())?;
    let wasmtime = tools
        .wasmtime
        .context("wasmtime is required for the tests")?;

    step("rustfmt", || run(cargo().args(["fmt", "--all", "--check"])))?;
    step("clippy (native)", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--exclude",
            "spin-variables-env",
            "--exclude",
            "p3-component",
            "--all-targets",
            "--features",
            HOST_TESTS,
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("clippy (wasm32-wasip2)", || {
        run(cargo().args([
            "clippy",
            "--target",
            artifacts::WASM_TARGET,
            "--package",
            "name-api",
            "--package",
            "spin-variables-env",
            "--package",
            "hello-component",
            "--package",
            "hello-variables",
            "--package",
            "p3-component",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("letters table is current", || letters::run(true))?;
    step("openapi.json is current", || openapi::run(true))?;
    step(
        "openapi.json passes the OWASP API Security lint",
        owasp_lint,
    )?;
    if !args.offline {
        step("vendored Swagger UI matches npm", || {
            vendor::run_vendor(true)
        })?;
    }
    step(
        "offline infrastructure checks (Bicep, checkov, policies, Kubernetes, YAML, azd)",
        || {
            run(Command::new(root().join(".venv-infra/bin/python"))
                .current_dir(root())
                .args(["tests/infra/check_infra.py", "--quiet"]))
        },
    )?;
    // Each check must also catch files broken on purpose (and pass the unbroken ones), so a
    // check that can no longer fail fails the suite.
    step(
        "self-test of the infrastructure checks (breakages caught)",
        || {
            run(Command::new(root().join(".venv-infra/bin/python"))
                .current_dir(root())
                .args(["tests/infra/selftest.py", "--jobs", "2"]))
        },
    )?;
    let built = step("build component and composition", || artifacts::build(true))?;
    step("build apim-emulator", || {
        run(cargo().args(["build", "--package", "apim-emulator"]))
    })?;
    step(
        "fuzz request parsing and the policy loader (bounded)",
        || {
            crate::fuzz::fuzz(&crate::fuzz::FuzzArgs {
                seconds: args.fuzz_seconds,
                target: None,
            })
        },
    )?;
    let (passed, failed) = step("cargo test", || {
        counted(
            cargo()
                .args([
                    "test",
                    "--workspace",
                    "--exclude",
                    "spin-variables-env",
                    "--exclude",
                    "p3-component",
                    "--features",
                    HOST_TESTS,
                ])
                .args(&args.cargo_test_args)
                .env("NAME_API_WASM", &built.component)
                .env("NAME_API_COMPOSED_WASM", &built.composed)
                .env("WASMTIME", &wasmtime)
                .env("NAME_API_VENV_BIN", &tools.venv_bin)
                .env("APIM_EMULATOR", root().join("target/debug/apim-emulator")),
        )
    })?;
    step(
        "cargo xtask verify: the gateway contract against the emulator",
        || {
            crate::verify::against_local_stack(
                &wasmtime,
                &built.composed,
                &root().join("target/debug/apim-emulator"),
                root().join("tests/artifacts/verify-emulator.json"),
            )
        },
    )?;
    println!("xtask test: all steps passed in {:.0?}", started.elapsed());
    println!("{passed} passed, {failed} failed");
    Ok(())
}

/// Spectral with the OWASP API Security ruleset over `static-docs/openapi.json`: any error
/// fails (warnings are printed). The ruleset file lists each exception with its reason.
fn owasp_lint() -> Result<()> {
    let lint = root().join("tests").join("lint");
    run(Command::new(lint.join("node_modules/.bin/spectral"))
        .current_dir(&lint)
        .args([
            "lint",
            "--ruleset",
            "owasp.spectral.yaml",
            "--fail-severity",
            "error",
            "../../static-docs/openapi.json",
        ]))
}

/// Run `cargo test`, echoing its output, and add up its `test result:` lines.
fn counted(cmd: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn()?;
    let (mut passed, mut failed) = (0, 0);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            let count = |word: &str| {
                summary
                    .split(';')
                    .find_map(|part| {
                        part.trim()
                            .strip_suffix(word)?
                            .trim()
                            .rsplit(' ')
                            .next()?
                            .parse::<u64>()
                            .ok()
                    })
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    let status = child.wait()?;
    if !status.success() {
        println!("{passed} passed, {failed} failed");
        anyhow::bail!("cargo test failed ({status})");
    }
    Ok((passed, failed))
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    println!("==> {name}");
    let result = f().with_context(|| format!("step failed: {name}"));
    println!(
        "<== {name}: {} in {:.1?}",
        if result.is_ok() { "ok" } else { "FAILED" },
        started.elapsed()
    );
    result
}
