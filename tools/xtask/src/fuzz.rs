//! `cargo xtask fuzz`: libFuzzer (cargo fuzz) over the component's request conversion and
//! routing (`fuzz/fuzz_targets/request.rs`), the emulator's policy loader (`policy.rs`) and
//! its declarations and URL templates (`declarations.rs`), each for a bounded time. The
//! test suite runs it briefly; longer runs are by hand.
//!
//! An empty corpus is seeded from the repository's own files (the policies, the
//! declarations, requests from the contract), so a short run starts from valid inputs
//! instead of rediscovering them. A run that executes nothing fails.
//!
//! cargo fuzz needs nightly-only compiler flags; `RUSTC_BOOTSTRAP=1` lets the stable
//! toolchain accept them (no other toolchain can be installed here). The code under test
//! is safe Rust, so the run uses no sanitizer (faster) but keeps debug assertions and
//! overflow checks on: a panic is a crash.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::paths::root;
use crate::procs::cargo;
use crate::run;
use crate::setup::find_on_path;

/// The pinned cargo-fuzz release.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
pub const TARGETS: [&str; 3] = ["request", "policy", "declarations"];

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
        seed(target, &corpus)?;
        let dict = root().join("fuzz").join(format!("{target}.dict"));
        let output = cargo()
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
            .args(dict.is_file().then(|| format!("-dict={}", dict.display())))
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
        let executions = stat("number_of_executed_units").unwrap_or(0);
        if executions == 0 {
            bail!("fuzz target {target} ran no input (no final stats in its output)");
        }
        println!(
            "fuzz {target}: {executions} executions in {} s, 0 crashes (corpus fuzz/corpus/{target}, {} inputs)",
            args.seconds,
            std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0),
        );
    }
    Ok(())
}

/// Write seed inputs for `target` into `corpus` when it holds none.
fn seed(target: &str, corpus: &Path) -> Result<()> {
    std::fs::create_dir_all(corpus)?;
    if std::fs::read_dir(corpus)?.next().is_some() {
        return Ok(());
    }
    let read = |file: &str| {
        std::fs::read(root().join(file)).with_context(|| format!("reading {file} for a seed"))
    };
    let seeds: Vec<Vec<u8>> = match target {
        // method \n target \n config selector \n headers (fuzz_targets/request.rs).
        "request" => [
            "GET\n/generate_name\n\0\n",
            "GET\n/generate_name?starts_with=%C3%91\n\x03\nx-backend-key: k\n",
            "HEAD\n/generate_name?starts_with=a&starts_with=b\n\0\n",
            "GET\n/openapi.json\n\x04\nif-none-match: \"x\"\n",
            "GET\n/docs/swagger-ui.css\n\x10\naccept-encoding: gzip\nx-backend-key: d\n",
            "HEAD\n/docs\n\x11\nx-backend-key: k\nx-backend-key: k\n",
            "POST\n/\n\0\n",
            "GET\n/docs/\n\x08\n",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "policy" => vec![
            read("infra/apim/policies/api.xml")?,
            read("infra/apim/policies/public.xml")?,
        ],
        // selector byte + a file's text (fuzz_targets/declarations.rs); the first line
        // doubles as a URL template, the second as a path.
        "declarations" => {
            let files = [
                "infra/apim/apis/api.json",
                "infra/apim/apis/public.json",
                "infra/apim/backends.json",
                "infra/apim/named-values.json",
            ];
            let mut seeds = Vec::new();
            for (selector, file) in (0u8..).zip(files) {
                seeds.push([vec![selector], read(file)?].concat());
            }
            seeds.push(b"\0/docs/{*asset}\n/docs/a/b".to_vec());
            seeds.push(b"\0/{id}/x\n/1/x/".to_vec());
            seeds
        }
        other => bail!("no seeds for fuzz target {other}"),
    };
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(corpus.join(format!("seed-{i}")), seed)?;
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let home_bin = crate::setup::cargo_home().join("bin/cargo-fuzz");
    if find_on_path("cargo-fuzz").is_some() || home_bin.is_file() {
        return Ok(());
    }
    println!("fuzz: installing cargo-fuzz {CARGO_FUZZ_VERSION} (once)");
    run(cargo().args([
        "install",
        "--locked",
        &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
    ]))
}
