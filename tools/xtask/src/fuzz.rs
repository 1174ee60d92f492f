//! `cargo xtask fuzz`: libFuzzer (cargo fuzz) over the request parsing and routing
//! (`fuzz/fuzz_targets/request.rs`) and the emulator's policy loader (`policy.rs`), each
//! for a bounded time. The test suite runs it briefly; longer runs are by hand.
//!
//! cargo fuzz needs nightly-only compiler flags; `RUSTC_BOOTSTRAP=1` lets the stable
//! toolchain accept them (no other toolchain can be installed here). The code under test
//! is safe Rust, so the run uses no sanitizer (faster) but keeps debug assertions and
//! overflow checks on: a panic is a crash.

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::paths::root;
use crate::run;
use crate::setup::find_on_path;

/// The pinned cargo-fuzz release.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
pub const TARGETS: [&str; 2] = ["request", "policy"];

#[derive(Args)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Only this target.
    #[arg(long, value_parser = TARGETS)]
    pub target: Option<String>,
}

pub fn fuzz(args: &FuzzArgs) -> Result<()> {
    if args.seconds == 0 {
        println!("fuzz: skipped (0 seconds)");
        return Ok(());
    }
    ensure_cargo_fuzz()?;
    let targets: Vec<&str> = match &args.target {
        Some(t) => vec![t.as_str()],
        None => TARGETS.to_vec(),
    };
    for target in targets {
        let corpus = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let dict = root().join("fuzz").join(format!("{target}.dict"));
        let output = Command::new(env!("CARGO"))
            .current_dir(root())
            .env("RUSTC_BOOTSTRAP", "1")
            .args([
                "fuzz",
                "run",
                "--fuzz-dir",
                "fuzz",
                "--sanitizer",
                "none",
                "--debug-assertions",
                target,
            ])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={}", args.seconds))
            .arg(format!("-dict={}", dict.display()))
            .args(["-print_final_stats=1", "-max_len=4096", "-timeout=10"])
            .output()
            .context("running cargo fuzz")?;
        let log = String::from_utf8_lossy(&output.stderr);
        let stat = |name: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if !output.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            bail!(
                "fuzz target {target} failed (crash or build error):\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        println!(
            "fuzz {target}: {} executions in {} s, 0 crashes (corpus fuzz/corpus/{target}, {} inputs)",
            stat("number_of_executed_units").unwrap_or(0),
            args.seconds,
            std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0),
        );
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let home_bin = crate::setup::cargo_home().join("bin/cargo-fuzz");
    if find_on_path("cargo-fuzz").is_some() || home_bin.is_file() {
        return Ok(());
    }
    println!("fuzz: installing cargo-fuzz {CARGO_FUZZ_VERSION} (once)");
    run(Command::new(env!("CARGO")).args([
        "install",
        "--locked",
        &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
    ]))
}
