//! `cargo xtask bench`: throughput, latency, cold start, memory and size, side by side in
//! one run on loopback, with ratios against baselines measured in the same run.
//!
//! Contenders (each alone on the machine while measured; `wrk -t1` takes one core):
//! - (a) name-api on `wasmtime serve` (composed component, production mode: backend key);
//! - (b) the same behind `apim-emulator` (subscription key, policies from `infra/`);
//! - (c) the same API in FastAPI on uvicorn (`bench/fastapi_app.py`), the original stack;
//! - (d) name-api's handler natively on hyper (`tools/native-baseline`), the upper bound;
//! - (h) a hello-world spin-sdk 5.2 component on the same host, the floor;
//! - (e) `spin up`, when `spin` is on PATH.
//!
//! It prints a table and writes it, with the machine's description, to `bench/RESULTS.md`.
//! Figures are indicative: server and load generator share two cores.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::credentials::Credentials;
use crate::paths::root;
use crate::procs::{self, wait_for_200, Guard};
use crate::setup::{self, find_on_path, SetupArgs};
use crate::{artifacts, run};

#[derive(Args)]
pub struct BenchArgs {
    /// Seconds per load run.
    #[arg(long, default_value_t = 8)]
    pub duration: u64,
    /// Connection counts to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
    pub connections: Vec<u32>,
    /// Cold-start trials per contender (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub trials: usize,
    /// Where to write the Markdown results.
    #[arg(long, default_value = "bench/RESULTS.md")]
    pub out: PathBuf,
}

const BACKEND_KEY: &str = "bench-backend-key-0f3a9c1e7b5d2486";
const DOCS_BACKEND_KEY: &str = "bench-docs-backend-key-7e21c0a4b9d3f815";
const SUBSCRIPTION_KEY: &str = "bench-subscription-key-6d1e";
const PATH: &str = "/generate_name";
/// Alternating (a)/(h) rounds for the hello-world comparison.
const PAIRED_ROUNDS: usize = 5;

/// One wrk run.
#[derive(Clone, Debug)]
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    requests: u64,
    errors: u64,
}

/// One contender's results.
struct Row {
    key: &'static str,
    label: String,
    loads: BTreeMap<u32, Load>,
    peak_rss_kb: u64,
}

/// How to start one contender, and where to send load.
struct Contender {
    key: &'static str,
    label: String,
    /// Processes to start, in order (a backend before its gateway).
    commands: Vec<Command>,
    /// Ports the processes listen on, in the same order.
    ports: Vec<u16>,
    url: String,
    headers: Vec<(&'static str, String)>,
}

pub fn bench(args: BenchArgs) -> Result<()> {
    let tools = setup::ensure(&SetupArgs { serve_only: true })?;
    let wasmtime = tools.wasmtime.context("wasmtime is required")?;
    if find_on_path("wrk").is_none() {
        setup::apt_install(&["wrk"])?;
    }
    let venv = ensure_bench_venv()?;

    println!("bench: building release artifacts");
    let built = artifacts::build(true)?;
    run(cargo().args([
        "build",
        "--release",
        "--package",
        "apim-emulator",
        "--package",
        "native-baseline",
    ]))?;
    run(cargo().args([
        "build",
        "--release",
        "--target",
        artifacts::WASM_TARGET,
        "--package",
        "hello-component",
    ]))?;
    // The experiment builds name-api as a dependency without its Spin entry point; Cargo
    // then also writes that (entry-less) name_api.wasm, so it gets a target dir of its own.
    let p3_target = root().join("target/p3-experiment");
    run(cargo()
        .args([
            "build",
            "--release",
            "--target",
            artifacts::WASM_TARGET,
            "--package",
            "p3-component",
            "--target-dir",
        ])
        .arg(&p3_target))?;
    let hello = artifacts::release_wasm("hello_component");
    let p3 = p3_target
        .join(artifacts::WASM_TARGET)
        .join("release/p3_component.wasm");
    let emulator = root().join("target/release/apim-emulator");
    let native = root().join("target/release/native-baseline");
    let names_json = root().join("target/bench-names.json");
    std::fs::write(&names_json, serde_json::to_string(name_api::names::NAMES)?)?;

    let credentials = Credentials {
        api: BACKEND_KEY.to_owned(),
        docs: DOCS_BACKEND_KEY.to_owned(),
    };
    let production_env = credentials.env();
    let production_vars: Vec<(&str, &str)> = production_env
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let wasmtime_cmd = |wasm: &Path, port: u16, cache: bool| {
        let cache = if cache { "cache=y" } else { "cache=n" };
        procs::wasmtime_serve(
            &wasmtime,
            wasm,
            &format!("127.0.0.1:{port}"),
            &["-C", cache],
            &production_vars,
        )
    };
    let uvicorn_cmd = |port: u16| {
        let mut cmd = Command::new(venv.join("bin/uvicorn"));
        cmd.current_dir(root().join("bench"))
            .args([
                "fastapi_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(["--log-level", "warning", "--no-access-log"])
            .env("NAME_API_NAMES", &names_json)
            .envs(production_vars.iter().copied());
        cmd
    };
    let native_cmd = |port: u16| {
        let mut cmd = Command::new(&native);
        cmd.arg(format!("127.0.0.1:{port}"))
            .envs(production_vars.iter().copied());
        cmd
    };

    let key_header = || vec![("x-backend-key", BACKEND_KEY.to_owned())];
    let mut contenders = vec![
        Contender {
            key: "a",
            label: "name-api on wasmtime serve".into(),
            commands: vec![wasmtime_cmd(&built.composed, 3101, true)],
            ports: vec![3101],
            url: format!("http://127.0.0.1:3101{PATH}"),
            headers: key_header(),
        },
        Contender {
            key: "b",
            label: "name-api behind apim-emulator".into(),
            commands: vec![wasmtime_cmd(&built.composed, 3102, true), {
                let mut cmd = Command::new(&emulator);
                cmd.env("APIM_EMULATOR_LISTEN", "127.0.0.1:3103")
                    .env("APIM_EMULATOR_BACKEND", "http://127.0.0.1:3102")
                    .env("APIM_EMULATOR_SUBSCRIPTION_KEYS", SUBSCRIPTION_KEY)
                    .env(
                        "APIM_EMULATOR_NAMED_VALUES",
                        format!("{},rate-limit-calls=100000000", credentials.named_values()),
                    )
                    .env("APIM_EMULATOR_ROOT", root())
                    .stdout(Stdio::from(
                        std::fs::File::create(emulator_log()).expect("bench log"),
                    ));
                cmd
            }],
            ports: vec![3102, 3103],
            url: format!("http://127.0.0.1:3103/api{PATH}"),
            headers: vec![("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY.to_owned())],
        },
        Contender {
            key: "c",
            label: "FastAPI on uvicorn".into(),
            commands: vec![uvicorn_cmd(3104)],
            ports: vec![3104],
            url: format!("http://127.0.0.1:3104{PATH}"),
            headers: key_header(),
        },
        Contender {
            key: "d",
            label: "native Rust (same handler on hyper)".into(),
            commands: vec![native_cmd(3105)],
            ports: vec![3105],
            url: format!("http://127.0.0.1:3105{PATH}"),
            headers: key_header(),
        },
        Contender {
            key: "h",
            label: "hello-world component on wasmtime serve".into(),
            commands: vec![wasmtime_cmd(&hello, 3106, true)],
            ports: vec![3106],
            url: format!("http://127.0.0.1:3106{PATH}"),
            headers: key_header(),
        },
    ];
    // Experiment: the same handler as a wasi:http@0.3 component (instances reused).
    let p3_cmd = procs::wasmtime_serve(
        &wasmtime,
        &p3,
        "127.0.0.1:3108",
        &["-Sp3", "-Wcomponent-model-async=y"],
        &production_vars,
    );
    contenders.push(Contender {
        key: "p3",
        label: "experiment: same handler on wasi:http@0.3 (spin-sdk 7.0), wasmtime serve".into(),
        commands: vec![p3_cmd],
        ports: vec![3108],
        url: format!("http://127.0.0.1:3108{PATH}"),
        headers: key_header(),
    });
    if let Some(spin) = &tools.spin {
        let mut cmd = Command::new(spin);
        cmd.current_dir(root())
            .args(["up", "--listen", "127.0.0.1:3107"])
            .envs(production_vars.iter().copied());
        contenders.push(Contender {
            key: "e",
            label: "name-api on spin up".into(),
            commands: vec![cmd],
            ports: vec![3107],
            url: format!("http://127.0.0.1:3107{PATH}"),
            headers: key_header(),
        });
    }

    let mut rows = Vec::new();
    for contender in contenders {
        rows.push(measure(contender, &args)?);
    }

    // The 10% comparison with the hello-world floor is sensitive to background noise, so
    // it gets its own measurement: both servers up, alternating 16-connection runs.
    println!("bench: (a) vs (h), {PAIRED_ROUNDS} alternating rounds at 16 connections");
    let mut a_server = Guard(
        wasmtime_cmd(&built.composed, 3121, true)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let mut h_server = Guard(
        wasmtime_cmd(&hello, 3122, true)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_for_200(
        "127.0.0.1:3121",
        Some((PATH, &key_header()[..])),
        &mut a_server.0,
        Duration::from_secs(60),
    )?;
    wait_for_200(
        "127.0.0.1:3122",
        Some((PATH, &key_header()[..])),
        &mut h_server.0,
        Duration::from_secs(60),
    )?;
    let mut ratios = Vec::new();
    for round in 0..PAIRED_ROUNDS {
        let a = wrk(
            &format!("http://127.0.0.1:3121{PATH}"),
            &key_header(),
            16,
            5,
        )?;
        let h = wrk(
            &format!("http://127.0.0.1:3122{PATH}"),
            &key_header(),
            16,
            5,
        )?;
        println!(
            "  round {}: (a) {:.0} req/s, (h) {:.0} req/s, ratio {:.3}",
            round + 1,
            a.rps,
            h.rps,
            a.rps / h.rps
        );
        ratios.push(a.rps / h.rps);
    }
    drop((a_server, h_server));
    ratios.sort_by(f64::total_cmp);
    let paired_ratio = ratios[ratios.len() / 2];

    println!("bench: cold starts ({} trials each, median)", args.trials);
    let mut cold = Vec::new();
    // Compile once so the cache is warm for the cached measurement.
    cold_start(&mut wasmtime_cmd(&built.composed, 3111, true), 3111, 1)?;
    cold.push((
        "a",
        "name-api, wasmtime serve, cached compilation",
        cold_start(
            &mut wasmtime_cmd(&built.composed, 3111, true),
            3111,
            args.trials,
        )?,
    ));
    cold.push((
        "a",
        "name-api, wasmtime serve, compilation cache off",
        cold_start(
            &mut wasmtime_cmd(&built.composed, 3112, false),
            3112,
            args.trials,
        )?,
    ));
    cold.push((
        "h",
        "hello world, wasmtime serve, cached compilation",
        cold_start(&mut wasmtime_cmd(&hello, 3113, true), 3113, args.trials)?,
    ));
    cold.push((
        "c",
        "FastAPI, uvicorn",
        cold_start(&mut uvicorn_cmd(3114), 3114, args.trials)?,
    ));
    cold.push((
        "d",
        "native Rust",
        cold_start(&mut native_cmd(3115), 3115, args.trials)?,
    ));
    if let Some(spin) = &tools.spin {
        let mut cmd = Command::new(spin);
        cmd.current_dir(root())
            .args(["up", "--listen", "127.0.0.1:3116"])
            .envs(production_vars.iter().copied());
        cold.push((
            "e",
            "name-api, spin up",
            cold_start(&mut cmd, 3116, args.trials)?,
        ));
    }

    let sizes = vec![
        (
            "name_api.wasm (with Swagger UI)",
            std::fs::metadata(&built.component)?.len(),
        ),
        (
            "name_api.composed.wasm (for wasmtime serve)",
            std::fs::metadata(&built.composed)?.len(),
        ),
        ("hello_component.wasm", std::fs::metadata(&hello)?.len()),
        (
            "p3_component.wasm (experiment)",
            std::fs::metadata(&p3)?.len(),
        ),
    ];
    let internal = emulator_internal_p50_ms();
    let report = render(&rows, &cold, &sizes, &args, paired_ratio, internal)?;
    println!("\n{report}");
    let out = root().join(&args.out);
    std::fs::write(&out, &report)?;
    println!("bench: wrote {}", out.display());
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root());
    cmd
}

fn emulator_log() -> PathBuf {
    root().join("target/bench-emulator.log")
}

/// Median time a request spent inside the emulator (its log's `total` minus `backend`),
/// in milliseconds: what the gateway's own code costs, apart from the extra network hop.
fn emulator_internal_p50_ms() -> f64 {
    let text = std::fs::read_to_string(emulator_log()).unwrap_or_default();
    let mut own: Vec<f64> = text
        .lines()
        .filter_map(|line| {
            let number = |key: &str| {
                line.split(key)
                    .nth(1)?
                    .split("ms")
                    .next()?
                    .parse::<f64>()
                    .ok()
            };
            Some(number("total=")? - number("backend=")?)
        })
        .collect();
    own.sort_by(f64::total_cmp);
    own.get(own.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Start a contender, warm it up, run the loads, record peak memory, stop it.
fn measure(mut contender: Contender, args: &BenchArgs) -> Result<Row> {
    println!("bench: ({}) {}", contender.key, contender.label);
    let mut children = Vec::new();
    for (cmd, port) in contender.commands.iter_mut().zip(&contender.ports) {
        cmd.stdin(Stdio::null()).stderr(Stdio::null());
        let mut child = Guard(cmd.spawn().with_context(|| format!("starting {cmd:?}"))?);
        wait_for_200(
            &format!("127.0.0.1:{port}"),
            None,
            &mut child.0,
            Duration::from_secs(60),
        )?;
        children.push(child);
    }
    let path = contender
        .url
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    let addr = contender
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    wait_for_200(
        &addr,
        Some((&path, &contender.headers[..])),
        &mut children.last_mut().unwrap().0,
        Duration::from_secs(30),
    )?;
    wrk(&contender.url, &contender.headers, 16, 2)?; // warm-up
    let mut loads = BTreeMap::new();
    for &connections in &args.connections {
        let load = wrk(
            &contender.url,
            &contender.headers,
            connections,
            args.duration,
        )?;
        if load.errors > 0 {
            bail!(
                "({}) {} errors at {connections} connections: figures invalid",
                contender.key,
                load.errors
            );
        }
        println!(
            "  {connections:>3} connections: {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms  max {:.2} ms  ({} requests)",
            load.rps, load.p50_ms, load.p99_ms, load.max_ms, load.requests
        );
        loads.insert(connections, load);
    }
    let peak_rss_kb = children
        .iter()
        .map(|c| procs::proc_status_kb(c.0.id(), "VmHWM:"))
        .sum();
    Ok(Row {
        key: contender.key,
        label: contender.label,
        loads,
        peak_rss_kb,
    })
}

/// Launch to first `200`, in milliseconds: median of `trials` fresh starts.
fn cold_start(cmd: &mut Command, port: u16, trials: usize) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..trials {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = Instant::now();
        let mut child = Guard(cmd.spawn()?);
        let headers = [("x-backend-key", BACKEND_KEY.to_owned())];
        wait_for_200(
            &format!("127.0.0.1:{port}"),
            Some((PATH, &headers[..])),
            &mut child.0,
            Duration::from_secs(60),
        )?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        drop(child);
        // Let the port be released before the next start.
        std::thread::sleep(Duration::from_millis(100));
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Poll until the port accepts and, with a request, answers `200`.
/// Run `wrk -t1` and parse its report.
fn wrk(url: &str, headers: &[(&str, String)], connections: u32, seconds: u64) -> Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "--timeout",
        "5s",
    ]);
    for (name, value) in headers {
        cmd.args(["-H", &format!("{name}: {value}")]);
    }
    let output = cmd.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<Load> {
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim())
    };
    let duration_ms = |s: &str| -> Option<f64> {
        let s = s.trim();
        let (number, factor) = if let Some(n) = s.strip_suffix("us") {
            (n, 1e-3)
        } else if let Some(n) = s.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = s.strip_suffix('m') {
            (n, 60e3)
        } else if let Some(n) = s.strip_suffix('s') {
            (n, 1e3)
        } else {
            return None;
        };
        number.parse::<f64>().ok().map(|v| v * factor)
    };
    let latency: Vec<&str> = field("Latency")?.split_whitespace().collect();
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let non_2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let socket_errors: u64 = field("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Some(Load {
        rps: field("Requests/sec:")?.parse().ok()?,
        p50_ms: duration_ms(field("50%")?)?,
        p99_ms: duration_ms(field("99%")?)?,
        max_ms: duration_ms(latency.get(2)?)?,
        requests,
        errors: non_2xx + socket_errors,
    })
}

fn ensure_bench_venv() -> Result<PathBuf> {
    let venv = root().join(".venv-bench");
    let requirements = root().join("bench/requirements.txt");
    if !venv.join("bin/uvicorn").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements))?;
    }
    Ok(venv)
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))?
                .split(':')
                .nth(1)
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next()?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    format!(
        "{} x {cpu}, {:.0} GiB RAM, Linux {}; {}; {}; Python {}; load: wrk -t1 (Debian), server and load generator share the cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        mem_kb as f64 / 1024.0 / 1024.0,
        command_output("uname", &["-r"]),
        command_output("wasmtime", &["--version"]),
        command_output("rustc", &["--version"]),
        command_output("python3", &["-c", "import platform; print(platform.python_version())"]),
    )
}

fn render(
    rows: &[Row],
    cold: &[(&str, &str, f64)],
    sizes: &[(&str, u64)],
    args: &BenchArgs,
    paired_ratio: f64,
    emulator_internal_ms: f64,
) -> Result<String> {
    let row = |key: &str| rows.iter().find(|r| r.key == key);
    let (a, b, c, d) = (
        row("a").unwrap(),
        row("b").unwrap(),
        row("c").unwrap(),
        row("d").unwrap(),
    );
    let mut out = String::new();
    writeln!(out, "# Benchmark results\n")?;
    writeln!(
        out,
        "Written by `cargo xtask bench` on {}.\n",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    )?;
    writeln!(out, "Machine: {}.\n", machine())?;
    writeln!(
        out,
        "Each contender ran alone, `GET /generate_name` with its key, {} s per connection count after a 2 s warm-up; \
         every response was checked to be 2xx (a run with any error is refused).\n",
        args.duration
    )?;
    writeln!(out, "## Throughput and latency\n")?;
    writeln!(out, "| contender | conns | req/s | p50 ms | p99 ms | max ms | vs (c) FastAPI | vs (d) native | peak RSS MiB |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in rows {
        for (conns, load) in &r.loads {
            writeln!(
                out,
                "| ({}) {} | {conns} | {:.0} | {:.3} | {:.3} | {:.2} | {:.2}x | {:.2}x | {:.1} |",
                r.key,
                r.label,
                load.rps,
                load.p50_ms,
                load.p99_ms,
                load.max_ms,
                load.rps / c.loads[conns].rps,
                load.rps / d.loads[conns].rps,
                r.peak_rss_kb as f64 / 1024.0
            )?;
        }
    }
    writeln!(
        out,
        "\nPeak RSS of (b) is the component host plus the emulator. Time spent inside the emulator \
         per request (its log: `total` - `backend`), median over all (b) runs: {emulator_internal_ms:.3} ms; \
         the rest of what (b) adds to (a) is the extra loopback hop (client to gateway to component).\n"
    )?;
    writeln!(
        out,
        "## Cold start (launch to first 200, median of {})\n",
        args.trials
    )?;
    writeln!(out, "| contender | ms |")?;
    writeln!(out, "|---|---:|")?;
    for (key, label, ms) in cold {
        writeln!(out, "| ({key}) {label} | {ms:.1} |")?;
    }
    writeln!(out, "\n## Size\n")?;
    writeln!(out, "| artifact | bytes |")?;
    writeln!(out, "|---|---:|")?;
    for (name, bytes) in sizes {
        writeln!(out, "| {name} | {bytes} |")?;
    }
    let cold_of = |label_start: &str| {
        cold.iter()
            .find(|(_, l, _)| l.starts_with(label_start))
            .map(|(_, _, ms)| *ms)
            .unwrap_or(f64::NAN)
    };
    let a_cold = cold_of("name-api, wasmtime serve, cached");
    let c_cold = cold_of("FastAPI");
    let c16 = 16.min(*args.connections.iter().max().unwrap_or(&16));
    let targets = [
        (
            "(a) within 10% of the hello-world component's req/s (16 connections, median of alternating rounds)",
            Some(paired_ratio),
            0.90,
            true,
        ),
        ("(a) at least 1.4x (c) req/s at 16 connections", a.loads.get(&c16).zip(c.loads.get(&c16)).map(|(a, c)| a.rps / c.rps), 1.4, true),
        (
            "(a) p50 at 1 connection no higher than (c)'s (ratio a/c)",
            a.loads.get(&1).zip(c.loads.get(&1)).map(|(a, c)| a.p50_ms / c.p50_ms),
            1.0,
            false,
        ),
        ("(a) launch to first 200 at least 10x faster than (c)", Some(c_cold / a_cold), 10.0, true),
        (
            "(b) adds at most 0.1 ms to p50 at 1 connection (ms added)",
            b.loads.get(&1).zip(a.loads.get(&1)).map(|(b, a)| b.p50_ms - a.p50_ms),
            0.1,
            false,
        ),
    ];
    writeln!(out, "\n## Targets\n")?;
    writeln!(out, "| target | measured | bound | met |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    for (name, value, bound, at_least) in targets {
        let value = value.unwrap_or(f64::NAN);
        let met = if at_least {
            value >= bound
        } else {
            value <= bound
        };
        writeln!(
            out,
            "| {name} | {value:.3} | {bound} | {} |",
            if met { "yes" } else { "**no**" }
        )?;
    }
    Ok(out)
}
