//! `cargo xtask soak`: a bounded load and soak run through the gateway (loopback only).
//!
//! Phase 1: `--seconds` at `--connections` through `apim-emulator` in front of the
//! component on `wasmtime serve`, with a mix of valid, invalid, oversized (3.6 KB query,
//! 8 KB header) and unknown requests (`bench/mixed.lua`). Pass: no socket error, no
//! status outside {200, 404, 422}, and no growth of either server's memory between the
//! first and the last quarter of the run (RSS sampled every second, printed every 10 s;
//! the sample taken as the load starts is left out).
//! Phase 1's rate limit is far above the load (10^9 calls per 60 s) yet still counts
//! every call, so the emulator's sliding window is exercised at full rate: until it
//! kept calls in bounded slots (`apim-emulator`'s `rate_limit`), one timestamp per
//! call grew the gateway from 9.3 to 13.3 MiB over the first 60 s (then level), 1.28x.
//! Phase 2: the same stack with `rate-limit-calls` low. Pass: 429s appear, each with a
//! `Retry-After`, and the 200s stay within the limit per window.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

use local_stack::{Credentials, HostProgram, Output, Stack, StackOptions};

use crate::artifacts;
use crate::paths::root;
use crate::procs;
use crate::setup::{self, SetupArgs};

#[derive(Args)]
pub struct SoakArgs {
    /// Length of the mixed-load phase.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
}

const BACKEND_KEY: &str = "soak-backend-key-3b7e1f";
const DOCS_BACKEND_KEY: &str = "soak-docs-backend-key-8c2d4a";

fn credentials() -> Credentials {
    Credentials {
        api: BACKEND_KEY.to_owned(),
        docs: DOCS_BACKEND_KEY.to_owned(),
    }
}
const SUBSCRIPTION_KEY: &str = "soak-subscription-key-9a42";

/// The stack for one phase: the built artifacts, production keys, this rate limit.
fn start_stack(
    built: &Built,
    rate_limit_calls: u64,
    rate_limit_period: u64,
    ports: (u16, u16),
) -> Result<Stack> {
    Stack::start(StackOptions {
        host: HostProgram::Wasmtime {
            wasmtime: built.wasmtime.clone(),
            composed: built.composed.clone(),
        },
        host_port: ports.0,
        gateway_port: ports.1,
        credentials: credentials(),
        subscription_keys: vec![SUBSCRIPTION_KEY.to_owned()],
        named_values: vec![
            ("rate-limit-calls".to_owned(), rate_limit_calls.to_string()),
            (
                "rate-limit-renewal-period".to_owned(),
                rate_limit_period.to_string(),
            ),
        ],
        emulator: built.emulator.clone(),
        output: Output::Discard,
    })
}

/// What `soak` runs, as `artifacts::build` and the emulator build return it.
struct Built {
    wasmtime: PathBuf,
    composed: PathBuf,
    emulator: PathBuf,
}

/// Run wrk with the mixed script; returns status counts, socket errors and its output.
fn mixed_load(
    url: &str,
    connections: u32,
    seconds: u64,
) -> Result<(BTreeMap<u16, u64>, u64, String)> {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "5s",
        ])
        .args(["-s", root().join("bench/mixed.lua").to_str().unwrap()])
        .args([
            "-H",
            &format!("Ocp-Apim-Subscription-Key: {SUBSCRIPTION_KEY}"),
        ])
        .arg(url)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut statuses = BTreeMap::new();
    let mut errors = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["status", status, count] => {
                statuses.insert(status.parse()?, count.parse()?);
            }
            ["errors", rest @ ..] => {
                errors = rest.iter().filter_map(|w| w.parse::<u64>().ok()).sum()
            }
            _ => {}
        }
    }
    if statuses.is_empty() {
        bail!(
            "wrk printed no status counts:\n{text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((statuses, errors, text))
}

pub fn soak(args: SoakArgs) -> Result<()> {
    let tools = setup::ensure(&SetupArgs { serve_only: true })?;
    let built = Built {
        wasmtime: tools.wasmtime.context("wasmtime is required")?,
        composed: artifacts::build(true)?.composed,
        emulator: procs::build_release_emulator()?,
    };

    println!(
        "soak: phase 1: {} s at {} connections, mixed requests, through the gateway",
        args.seconds, args.connections
    );
    let stack = start_stack(&built, 1_000_000_000, 60, (3201, 3202))?;
    let (host_pid, gateway_pid) = (stack.host.0.id(), stack.gateway.0.id());
    let sampler = std::thread::spawn(move || {
        let mut samples = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(args.seconds) {
            samples.push((
                procs::proc_status_kb(host_pid, "VmRSS:"),
                procs::proc_status_kb(gateway_pid, "VmRSS:"),
            ));
            std::thread::sleep(Duration::from_secs(1));
        }
        samples
    });
    let (statuses, errors, text) = mixed_load(
        &format!("{}/api/generate_name", stack.gateway_url()),
        args.connections,
        args.seconds,
    )?;
    let samples = sampler.join().expect("sampler");
    println!("{}", text.trim());
    let total: u64 = statuses.values().sum();
    let unexpected: u64 = statuses
        .iter()
        .filter(|(s, _)| ![200, 404, 422].contains(*s))
        .map(|(_, n)| n)
        .sum();
    // The first sample is taken as wrk starts, before any request (gateway 3.5 MiB, then
    // 9.4-9.6 MiB from the next sample on): it is not part of the loaded run.
    let loaded = samples.get(1..).unwrap_or_default();
    let quarter = (loaded.len() / 4).max(1);
    let mean = |slice: &[(u64, u64)], pick: fn(&(u64, u64)) -> u64| {
        slice.iter().map(pick).sum::<u64>() as f64 / slice.len().max(1) as f64
    };
    let early = &loaded[..quarter.min(loaded.len())];
    let late = &loaded[loaded.len().saturating_sub(quarter)..];
    let growth = |pick: fn(&(u64, u64)) -> u64| mean(late, pick) / mean(early, pick);
    let (host_growth, gateway_growth) = (growth(|s| s.0), growth(|s| s.1));
    println!(
        "soak: {total} requests, statuses {statuses:?}, socket errors {errors}, unexpected statuses {unexpected}; \
         RSS growth first-to-last quarter: host {host_growth:.3}x, gateway {gateway_growth:.3}x \
         (host {:.1} -> {:.1} MiB, gateway {:.1} -> {:.1} MiB)",
        mean(early, |s| s.0) / 1024.0,
        mean(late, |s| s.0) / 1024.0,
        mean(early, |s| s.1) / 1024.0,
        mean(late, |s| s.1) / 1024.0,
    );
    println!("soak: RSS every 10 s, MiB: {}", rss_series(&samples));
    drop(stack);
    let mut failures = Vec::new();
    if errors > 0 {
        failures.push(format!("{errors} socket errors"));
    }
    if unexpected > 0 {
        failures.push(format!("{unexpected} responses with an unexpected status"));
    }
    for (name, growth) in [("host", host_growth), ("gateway", gateway_growth)] {
        if growth > 1.10 {
            failures.push(format!("{name} memory grew {growth:.2}x"));
        }
    }

    println!("soak: phase 2: rate limit {LIMIT} calls per {PERIOD} s");
    let stack = start_stack(&built, LIMIT, PERIOD, (3203, 3204))?;
    let url = stack.gateway_url();
    failures.extend(check_one_window(&url)?);
    failures.extend(check_windows_under_load(&url)?);
    let retry_after = probe_retry_after(&url)?;
    println!("soak: phase 2: a limited call answered 429 with Retry-After: {retry_after}");
    if !(1..=PERIOD).contains(&retry_after) {
        failures.push(format!("Retry-After {retry_after} outside 1..={PERIOD}"));
    }
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    println!("soak: passed");
    Ok(())
}

/// Every 10th sample as `host/gateway` MiB, so a failed growth check shows its shape
/// (a ramp that levels off, or a steady climb).
fn rss_series(samples: &[(u64, u64)]) -> String {
    samples
        .iter()
        .step_by(10)
        .map(|(host, gateway)| {
            format!(
                "{:.1}/{:.1}",
                *host as f64 / 1024.0,
                *gateway as f64 / 1024.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Phase 2's rate limit: calls per window, and the window in seconds.
const LIMIT: u64 = 200;
const PERIOD: u64 = 2;

/// In one fresh window, calls one by one: exactly [`LIMIT`] are answered 200 and the rest
/// 429 (when the calls fit in the window; otherwise the check says so and fails).
fn check_one_window(base: &str) -> Result<Vec<String>> {
    let addr = base.trim_start_matches("http://");
    let key = [("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY.to_owned())];
    let started = Instant::now();
    let mut statuses = BTreeMap::<String, u64>::new();
    for _ in 0..LIMIT + 50 {
        let response = local_stack::raw_get(addr, "/api/generate_name", &key)?;
        let status = response.get(9..12).unwrap_or("???").to_owned();
        *statuses.entry(status).or_default() += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "soak: phase 2: {} sequential calls in {elapsed:.2?}: {statuses:?}",
        LIMIT + 50
    );
    let mut failures = Vec::new();
    if elapsed >= Duration::from_secs(PERIOD) {
        failures.push(format!(
            "the window check took {elapsed:.2?}, longer than one window"
        ));
    }
    let expected = BTreeMap::from([("200".to_owned(), LIMIT), ("429".to_owned(), 50)]);
    if statuses != expected {
        failures.push(format!("one window: {statuses:?}, expected {expected:?}"));
    }
    Ok(failures)
}

/// 12 s of load at 16 connections on the limited operation only: the 200s never exceed
/// [`LIMIT`] per window the run overlaps, and under saturating load every full window is
/// used (at least `LIMIT` per full window but one); nothing but 200 and 429.
fn check_windows_under_load(base: &str) -> Result<Vec<String>> {
    // The previous check used the current window; start in a fresh one.
    std::thread::sleep(Duration::from_secs(PERIOD));
    let started = Instant::now();
    let output = Command::new("wrk")
        .args(["-t1", "-c16", "-d12s", "--timeout", "5s"])
        .args([
            "-H",
            &format!("Ocp-Apim-Subscription-Key: {SUBSCRIPTION_KEY}"),
        ])
        .args(["-s", root().join("bench/mixed.lua").to_str().unwrap()])
        .arg(format!("{base}/api/generate_name"))
        .args(["--", "limited"])
        .output()?;
    let elapsed = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut statuses = BTreeMap::<u16, u64>::new();
    for line in text.lines() {
        if let ["status", status, count] = line.split_whitespace().collect::<Vec<_>>()[..] {
            statuses.insert(status.parse()?, count.parse()?);
        }
    }
    let ok = statuses.get(&200).copied().unwrap_or(0);
    let limited = statuses.get(&429).copied().unwrap_or(0);
    let full_windows = (elapsed / PERIOD as f64).floor() as u64;
    let overlapped = (elapsed / PERIOD as f64).ceil() as u64 + 1;
    let (low, high) = (LIMIT * full_windows.saturating_sub(1), LIMIT * overlapped);
    println!(
        "soak: phase 2: {ok} x 200, {limited} x 429 in {elapsed:.1} s; allowed 200s: {low}..={high} \
         ({LIMIT} per window, {full_windows} full windows, {overlapped} overlapped at most)"
    );
    let mut failures = Vec::new();
    if !(low..=high).contains(&ok) {
        failures.push(format!("{ok} x 200 under load, outside {low}..={high}"));
    }
    if limited == 0 {
        failures.push("no 429 under a low rate limit".into());
    }
    let others: u64 = statuses
        .iter()
        .filter(|(s, _)| ![200, 429].contains(*s))
        .map(|(_, n)| n)
        .sum();
    if others > 0 {
        failures.push(format!(
            "{others} responses other than 200/429: {statuses:?}"
        ));
    }
    Ok(failures)
}

/// Exhaust the window and read `Retry-After` from the 429.
fn probe_retry_after(base: &str) -> Result<u64> {
    let addr = base.trim_start_matches("http://");
    let key = [("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY.to_owned())];
    for _ in 0..1000 {
        let response = local_stack::raw_get(addr, "/api/generate_name", &key)?;
        if response.starts_with("HTTP/1.1 429") {
            let value = response
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("retry-after:")
                        .map(|v| v.trim().to_owned())
                })
                .context("429 without Retry-After")?;
            return Ok(value.parse()?);
        }
    }
    bail!("no 429 after 1000 calls")
}
