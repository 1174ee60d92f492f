//! `cargo xtask bench`: throughput, latency, cold start, memory and size, side by side in
//! one run on loopback, with ratios against baselines measured in the same run.
//!
//! Contenders (each alone on the machine while measured; `wrk -t1` takes one core):
//! - (a) name-api on `wasmtime serve` (composed component, production mode: backend key),
//!   and (a-docs) the same serving the largest docs asset (the gzipped Swagger UI bundle);
//! - (b) the same behind `apim-emulator` (subscription key, policies from `infra/`);
//! - (c) the original's handler in FastAPI on uvicorn (`async def`, `bench/fastapi_app.py`),
//!   and (c-def) the same port as a `def` handler (uvicorn runs it on a thread pool);
//! - (d) name-api's handler natively on hyper (`tools/native-baseline`), the upper bound;
//! - (h) a hello-world spin-sdk 5.2 component built like name-api (128 KiB stack, same
//!   release profile), the floor; (h0) the same with the default build settings;
//! - (p3) the handler on `wasi:http@0.3` (experiment);
//! - when `spin` is on PATH, the same floors and every documented Spin configuration of
//!   name-api on `spin up` (s-*): see [`spin_contenders`].
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

use local_stack::{
    spawn_ready, wait_for_200, Credentials, Guard, RuntimeConfigFile, PRODUCTION_FLAGS,
};

use crate::paths::root;
use crate::procs::{self, cargo};
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
    /// Measure only the `spin up` rows and their floor comparisons, and replace the Spin
    /// sections of an existing results file with them (the other rows stay as recorded).
    #[arg(long)]
    pub spin_only: bool,
}

const BACKEND_KEY: &str = "bench-backend-key-0f3a9c1e7b5d2486";
const DOCS_BACKEND_KEY: &str = "bench-docs-backend-key-7e21c0a4b9d3f815";
const SUBSCRIPTION_KEY: &str = "bench-subscription-key-6d1e";
const PATH: &str = "/generate_name";
/// The largest docs asset (served gzipped), for the docs-asset row.
const DOCS_ASSET: &str = "/docs/swagger-ui-bundle.js";
/// The runtime config the README gives `spin up` (static provider, development mode).
const LOCAL_RUNTIME_CONFIG: &str = "spin-local.toml";
/// The floors as Spin apps: run from a manifest, as name-api is, so both pay what Spin
/// costs every manifest app (it opens the component's stdout and stderr log files for each
/// request; a bare `.wasm` has no log directory, row s-hw).
const FLOOR_MANIFEST: &str = "bench/hello-component/spin.toml";
const FLOOR_DEFAULT_MANIFEST: &str = "bench/hello-default/spin.toml";
/// The floor-plus-reads component's manifest and its static-provider runtime config.
const VARIABLES_MANIFEST: &str = "bench/hello-variables/spin.toml";
const VARIABLES_STATIC_CONFIG: &str = "bench/hello-variables/static.toml";
/// Rounds of each comparison with a hello-world floor ([`compare_with_floor`]). Seven 5 s
/// rounds: on this 2-core machine single rounds of the same pair range over 25%.
const PAIRED_ROUNDS: usize = 7;

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

/// A floor comparison: `server` against `floor`, alternating runs at 16 connections.
struct Paired {
    label: &'static str,
    /// Median of the per-round req/s ratios.
    ratio: f64,
    /// Lowest and highest per-round ratio: the noise the median is read against.
    spread: (f64, f64),
}

/// Everything the contenders are started from: tools, built artifacts, configuration.
struct Bench {
    wasmtime: PathBuf,
    spin: Option<PathBuf>,
    venv: PathBuf,
    composed: PathBuf,
    component: PathBuf,
    hello: PathBuf,
    hello_default: PathBuf,
    p3: PathBuf,
    emulator: PathBuf,
    native: PathBuf,
    names_json: PathBuf,
    credentials: Credentials,
    /// The production configuration as a static-provider runtime config (0600, temporary).
    production_runtime_config: RuntimeConfigFile,
}

pub fn bench(args: BenchArgs) -> Result<()> {
    let bench = Bench::prepare()?;
    if args.spin_only {
        return spin_only(&bench, &args);
    }
    let mut rows = Vec::new();
    for contender in bench.contenders() {
        rows.push(measure(contender, &args)?);
    }
    let paired = bench.paired_floor_ratios()?;
    let cold = bench.cold_starts(args.trials)?;
    let sizes = bench.sizes()?;
    let internal = emulator_internal_p50_ms();
    let report = render(&rows, &cold, &sizes, &args, &paired, internal)?;
    println!("\n{report}");
    let out = root().join(&args.out);
    std::fs::write(&out, &report)?;
    println!("bench: wrote {}", out.display());
    Ok(())
}

/// `--spin-only`: the Spin section and its floor targets, spliced into `args.out`.
fn spin_only(bench: &Bench, args: &BenchArgs) -> Result<()> {
    if bench.spin.is_none() {
        bail!("--spin-only needs spin on PATH");
    }
    let mut rows = Vec::new();
    for contender in bench.spin_contenders() {
        rows.push(measure(contender, args)?);
    }
    let paired = bench.paired_spin_ratios()?;
    let mut section = String::new();
    render_spin(&mut section, &rows)?;
    writeln!(
        section,
        "Measured in a separate run (`cargo xtask bench --spin-only`, {} s per connection count, {}); {}.\n",
        args.duration,
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        command_output("spin", &["--version"])
    )?;
    for p in &paired {
        writeln!(
            section,
            "- {}: median ratio of {PAIRED_ROUNDS} alternating 16-connection rounds {:.3} \
             (rounds from {:.3} to {:.3}; bound 0.9)",
            p.label, p.ratio, p.spread.0, p.spread.1
        )?;
    }
    writeln!(section)?;
    println!("\n{section}");
    let out = root().join(&args.out);
    let recorded = std::fs::read_to_string(&out).unwrap_or_default();
    let start = recorded.find("## Spin").unwrap_or(recorded.len());
    let end = recorded[start..]
        .find("## Cold start")
        .map_or(recorded.len(), |i| start + i);
    let report = format!("{}{section}{}", &recorded[..start], &recorded[end..]);
    std::fs::write(&out, report)?;
    println!("bench: wrote the Spin section of {}", out.display());
    Ok(())
}

impl Bench {
    /// Install what is missing and build every artifact in release mode.
    fn prepare() -> Result<Bench> {
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
            "--package",
            "hello-default",
            "--package",
            "hello-variables",
        ]))?;
        // The experiment builds name-api as a dependency without its Spin entry point;
        // Cargo then also writes that (entry-less) name_api.wasm, so it gets a target dir
        // of its own.
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
        let names_json = root().join("target/bench-names.json");
        std::fs::write(&names_json, serde_json::to_string(name_api::names::NAMES)?)?;
        let credentials = Credentials {
            api: BACKEND_KEY.to_owned(),
            docs: DOCS_BACKEND_KEY.to_owned(),
        };
        Ok(Bench {
            wasmtime,
            spin: tools.spin,
            venv,
            composed: built.composed,
            component: built.component,
            hello: artifacts::release_wasm("hello_component"),
            hello_default: artifacts::release_wasm("hello_default"),
            p3: p3_target
                .join(artifacts::WASM_TARGET)
                .join("release/p3_component.wasm"),
            emulator: root().join("target/release/apim-emulator"),
            native: root().join("target/release/native-baseline"),
            names_json,
            production_runtime_config: RuntimeConfigFile::write(&credentials.variables())?,
            credentials,
        })
    }

    fn wasmtime(&self, wasm: &Path, port: u16, cache: bool) -> Command {
        let cache = if cache { "cache=y" } else { "cache=n" };
        self.wasmtime_with(wasm, port, &["-C", cache])
    }

    /// `wasmtime serve` in production shape (flags, variables) with `extra` flags.
    fn wasmtime_with(&self, wasm: &Path, port: u16, extra: &[&str]) -> Command {
        local_stack::wasmtime_serve(
            &self.wasmtime,
            wasm,
            &format!("127.0.0.1:{port}"),
            &[&PRODUCTION_FLAGS[..], extra].concat(),
            &self.credentials.variables(),
        )
    }

    /// uvicorn serving `app` of `bench/fastapi_app.py`.
    fn uvicorn(&self, app: &str, port: u16) -> Command {
        let mut cmd = Command::new(self.venv.join("bin/uvicorn"));
        cmd.current_dir(root().join("bench"))
            .args([
                &format!("fastapi_app:{app}"),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(["--log-level", "warning", "--no-access-log"])
            .env("NAME_API_NAMES", &self.names_json)
            .envs(self.credentials.env());
        cmd
    }

    fn native(&self, port: u16) -> Command {
        let mut cmd = Command::new(&self.native);
        cmd.arg(format!("127.0.0.1:{port}"))
            .envs(self.credentials.env());
        cmd
    }

    fn emulator(&self, port: u16, backend_port: u16) -> Command {
        let mut named_values = self.credentials.named_values();
        named_values.push(("rate-limit-calls", "100000000".to_owned()));
        let mut cmd = local_stack::emulator_command(
            &self.emulator,
            &root(),
            &format!("127.0.0.1:{port}"),
            &format!("http://127.0.0.1:{backend_port}"),
            &[SUBSCRIPTION_KEY],
            &named_values,
        );
        cmd.stdout(Stdio::from(
            std::fs::File::create(emulator_log()).expect("bench log"),
        ));
        cmd
    }

    /// `spin up` of `source` (the manifest directory or a `.wasm`) in `config`.
    fn spin(&self, source: &Path, port: u16, config: SpinConfig) -> Option<Command> {
        let mut cmd = local_stack::spin_up(self.spin.as_ref()?, &format!("127.0.0.1:{port}"));
        cmd.arg("--from").arg(source);
        match config {
            SpinConfig::Defaults => {}
            SpinConfig::Committed(file) => {
                cmd.args(["--runtime-config-file", file]);
            }
            SpinConfig::ProductionEnvironment => {
                cmd.envs(self.credentials.env());
            }
            SpinConfig::ProductionRuntimeConfig => {
                cmd.arg("--runtime-config-file")
                    .arg(self.production_runtime_config.path());
            }
        }
        Some(cmd)
    }

    fn contenders(&self) -> Vec<Contender> {
        let api_key = || vec![("x-backend-key", BACKEND_KEY.to_owned())];
        let one = |key, label: &str, cmd: Command, port: u16, headers| Contender {
            key,
            label: label.to_owned(),
            commands: vec![cmd],
            ports: vec![port],
            url: format!("http://127.0.0.1:{port}{PATH}"),
            headers,
        };
        let mut contenders = vec![
            one(
                "a",
                "name-api on wasmtime serve",
                self.wasmtime(&self.composed, 3101, true),
                3101,
                api_key(),
            ),
            Contender {
                key: "a-docs",
                label: format!(
                    "name-api on wasmtime serve, GET {DOCS_ASSET} (gzip, docs credential)"
                ),
                commands: vec![self.wasmtime(&self.composed, 3109, true)],
                ports: vec![3109],
                url: format!("http://127.0.0.1:3109{DOCS_ASSET}"),
                headers: vec![
                    ("x-backend-key", DOCS_BACKEND_KEY.to_owned()),
                    ("accept-encoding", "gzip".to_owned()),
                ],
            },
            Contender {
                key: "b",
                label: "name-api behind apim-emulator".into(),
                commands: vec![
                    self.wasmtime(&self.composed, 3102, true),
                    self.emulator(3103, 3102),
                ],
                ports: vec![3102, 3103],
                url: format!("http://127.0.0.1:3103/api{PATH}"),
                headers: vec![("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY.to_owned())],
            },
            one(
                "c",
                "FastAPI on uvicorn, the original's `async def` handler",
                self.uvicorn("app", 3104),
                3104,
                api_key(),
            ),
            one(
                "c-def",
                "FastAPI on uvicorn, the same as a `def` handler (thread pool)",
                self.uvicorn("app_def", 3110),
                3110,
                api_key(),
            ),
            one(
                "d",
                "native Rust (same handler on hyper)",
                self.native(3105),
                3105,
                api_key(),
            ),
            one(
                "h",
                "hello-world component on wasmtime serve, name-api's build settings",
                self.wasmtime(&self.hello, 3106, true),
                3106,
                api_key(),
            ),
            one(
                "h0",
                "hello-world component on wasmtime serve, default build settings",
                self.wasmtime(&self.hello_default, 3111, true),
                3111,
                api_key(),
            ),
        ];
        // Experiment: the same handler as a wasi:http@0.3 component (instances reused).
        contenders.push(one(
            "p3",
            "experiment: same handler on wasi:http@0.3 (spin-sdk 7.0), wasmtime serve",
            self.wasmtime_with(&self.p3, 3108, &["-Sp3", "-Wcomponent-model-async=y"]),
            3108,
            api_key(),
        ));
        contenders.extend(self.spin_contenders());
        contenders
    }

    /// Every documented Spin configuration of name-api, and the floors, on `spin up`.
    fn spin_contenders(&self) -> Vec<Contender> {
        let manifest = root();
        let (floor, floor_default) = (
            root().join(FLOOR_MANIFEST),
            root().join(FLOOR_DEFAULT_MANIFEST),
        );
        let rows: [(&'static str, &str, &Path, SpinConfig, &str); 7] = [
            ("s-h", "hello world on spin up, name-api's build settings (the floor)", &floor, SpinConfig::Defaults, BACKEND_KEY),
            ("s-h0", "hello world on spin up, default build settings", &floor_default, SpinConfig::Defaults, BACKEND_KEY),
            ("s-hw", "hello world on spin up as a bare .wasm (no manifest: no per-request log files)", &self.hello, SpinConfig::Defaults, BACKEND_KEY),
            ("s-plain", "name-api, plain `spin up` (variables at their defaults: environment provider)", &manifest, SpinConfig::Defaults, BACKEND_KEY),
            ("s-local", "name-api, `spin up --runtime-config-file spin-local.toml` (static provider)", &manifest, SpinConfig::Committed(LOCAL_RUNTIME_CONFIG), BACKEND_KEY),
            ("s-env", "name-api, production variables as SPIN_VARIABLE_* (environment provider)", &manifest, SpinConfig::ProductionEnvironment, BACKEND_KEY),
            ("s-rc", "name-api, production variables in a static runtime config (serve --host spin, SpinKube)", &manifest, SpinConfig::ProductionRuntimeConfig, BACKEND_KEY),
        ];
        let mut contenders: Vec<Contender> = rows
            .into_iter()
            .zip(3131..)
            .filter_map(|((key, label, source, config, backend_key), port)| {
                Some(Contender {
                    key,
                    label: label.to_owned(),
                    commands: vec![self.spin(source, port, config)?],
                    ports: vec![port],
                    url: format!("http://127.0.0.1:{port}{PATH}"),
                    headers: vec![("x-backend-key", backend_key.to_owned())],
                })
            })
            .collect();
        // The price of one read per provider: the floor plus N reads (bench/hello-variables).
        let manifest = root().join(VARIABLES_MANIFEST);
        let static_config = SpinConfig::Committed(VARIABLES_STATIC_CONFIG);
        let reads: [(&'static str, &str, usize, SpinConfig); 4] = [
            (
                "s-v1",
                "hello world + 1 variable read, static provider",
                1,
                static_config,
            ),
            (
                "s-v2",
                "hello world + 2 variable reads, static provider",
                2,
                static_config,
            ),
            (
                "s-v6",
                "hello world + 6 variable reads, static provider",
                6,
                static_config,
            ),
            (
                "s-v1env",
                "hello world + 1 variable read, environment provider",
                1,
                SpinConfig::Defaults,
            ),
        ];
        contenders.extend(reads.into_iter().zip(3151..).filter_map(
            |((key, label, reads, config), port)| {
                Some(Contender {
                    key,
                    label: label.to_owned(),
                    commands: vec![self.spin(&manifest, port, config)?],
                    ports: vec![port],
                    url: format!("http://127.0.0.1:{port}/reads/{reads}"),
                    headers: Vec::new(),
                })
            },
        ));
        contenders
    }

    /// The "within 10% of hello world" comparisons are sensitive to background noise, so
    /// they get their own measurement: both servers up, alternating 16-connection runs.
    fn paired_floor_ratios(&self) -> Result<Vec<Paired>> {
        let mut results = compare_with_floor(
            self.wasmtime(&self.hello, 3122, true),
            vec![(
                "(a) name-api / (h) hello world, wasmtime serve",
                self.wasmtime(&self.composed, 3121, true),
            )],
        )?;
        results.extend(self.paired_spin_ratios()?);
        Ok(results)
    }

    /// The Spin floor comparisons, every documented configuration against one floor (none
    /// without spin).
    fn paired_spin_ratios(&self) -> Result<Vec<Paired>> {
        let manifest = root();
        let (Some(floor), Some(local), Some(production)) = (
            self.spin(&root().join(FLOOR_MANIFEST), 3124, SpinConfig::Defaults),
            self.spin(&manifest, 3123, SpinConfig::Committed(LOCAL_RUNTIME_CONFIG)),
            self.spin(&manifest, 3125, SpinConfig::ProductionRuntimeConfig),
        ) else {
            return Ok(Vec::new());
        };
        compare_with_floor(
            floor,
            vec![
                ("(s-local) / (s-h) hello world, spin up", local),
                ("(s-rc) / (s-h) hello world, spin up", production),
            ],
        )
    }

    fn cold_starts(&self, trials: usize) -> Result<Vec<(&'static str, &'static str, f64)>> {
        println!("bench: cold starts ({trials} trials each, median)");
        let mut cold = Vec::new();
        // Compile once so the cache is warm for the cached measurement.
        cold_start(&mut self.wasmtime(&self.composed, 3141, true), 3141, 1)?;
        let mut runs: Vec<(&'static str, &'static str, Command, u16)> = vec![
            (
                "a",
                "name-api, wasmtime serve, cached compilation",
                self.wasmtime(&self.composed, 3141, true),
                3141,
            ),
            (
                "a",
                "name-api, wasmtime serve, compilation cache off",
                self.wasmtime(&self.composed, 3142, false),
                3142,
            ),
            (
                "h",
                "hello world, wasmtime serve, cached compilation",
                self.wasmtime(&self.hello, 3143, true),
                3143,
            ),
            ("c", "FastAPI, uvicorn", self.uvicorn("app", 3144), 3144),
            ("d", "native Rust", self.native(3145), 3145),
        ];
        if let Some(cmd) = self.spin(&root(), 3146, SpinConfig::ProductionRuntimeConfig) {
            runs.push((
                "s-rc",
                "name-api, spin up, static runtime config",
                cmd,
                3146,
            ));
        }
        for (key, label, mut cmd, port) in runs {
            cold.push((key, label, cold_start(&mut cmd, port, trials)?));
        }
        Ok(cold)
    }

    fn sizes(&self) -> Result<Vec<(&'static str, u64)>> {
        let size = |path: &Path| std::fs::metadata(path).map(|m| m.len());
        Ok(vec![
            ("name_api.wasm (with Swagger UI)", size(&self.component)?),
            (
                "name_api.composed.wasm (for wasmtime serve)",
                size(&self.composed)?,
            ),
            (
                "hello_component.wasm (name-api's build settings)",
                size(&self.hello)?,
            ),
            (
                "hello_default.wasm (default build settings)",
                size(&self.hello_default)?,
            ),
            ("p3_component.wasm (experiment)", size(&self.p3)?),
        ])
    }
}

/// How `spin up` gets name-api's variables.
#[derive(Clone, Copy)]
enum SpinConfig {
    /// Nothing given: every templated variable goes through Spin's environment provider
    /// and falls back to the manifest default (development mode, no key).
    Defaults,
    /// A committed no-secret runtime config (static provider), path from the root:
    /// [`LOCAL_RUNTIME_CONFIG`] (development mode) or [`VARIABLES_STATIC_CONFIG`].
    Committed(&'static str),
    /// Production values as `SPIN_VARIABLE_*` (what a SpinApp's `variables` become).
    ProductionEnvironment,
    /// Production values in a static-provider runtime config (`serve --host spin`, and
    /// SpinKube's `runtimeConfig.loadFromSecret`).
    ProductionRuntimeConfig,
}

/// Servers compared with one floor: all up at once, each round loads every one of them at
/// 16 connections, and each server's ratio in a round is against the floor's run in that
/// same round. The order rotates by one every round and reverses every other round, so no
/// server always runs first or right after another (a drift in the machine's speed over
/// the rounds favours none). Ports come from the commands.
fn compare_with_floor(
    floor: Command,
    servers: Vec<(&'static str, Command)>,
) -> Result<Vec<Paired>> {
    if servers.is_empty() {
        return Ok(Vec::new());
    }
    let headers = [("x-backend-key", BACKEND_KEY.to_owned())];
    let (labels, commands): (Vec<&str>, Vec<Command>) = servers.into_iter().unzip();
    let mut running = Vec::new();
    for mut cmd in std::iter::once(floor).chain(commands) {
        let port = listen_port(&cmd)?;
        let addr = format!("127.0.0.1:{port}");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = spawn_ready(&mut cmd, &addr, Duration::from_secs(60))?;
        wait_for_200(
            &addr,
            Some((PATH, &headers[..])),
            &mut child.0,
            Duration::from_secs(60),
        )?;
        running.push((port, child));
    }
    println!(
        "bench: {} against the floor, {PAIRED_ROUNDS} rounds at 16 connections",
        labels.join("; ")
    );
    let mut ratios = vec![Vec::new(); labels.len()];
    for round in 0..PAIRED_ROUNDS {
        let mut order: Vec<usize> = (0..running.len()).collect();
        order.rotate_left(round % running.len());
        if round % 2 == 1 {
            order.reverse();
        }
        let mut rps = vec![0.0; running.len()];
        for index in order {
            let port = running[index].0;
            rps[index] = wrk(&format!("http://127.0.0.1:{port}{PATH}"), &headers, 16, 5)?.rps;
        }
        let line: Vec<String> = rps[1..]
            .iter()
            .map(|r| format!("{r:.0} ({:.3})", r / rps[0]))
            .collect();
        println!(
            "  round {}: floor {:.0} req/s; {}",
            round + 1,
            rps[0],
            line.join(", ")
        );
        for (server, r) in rps[1..].iter().enumerate() {
            ratios[server].push(r / rps[0]);
        }
    }
    drop(running);
    Ok(labels
        .into_iter()
        .zip(ratios)
        .map(|(label, mut ratios)| {
            ratios.sort_by(f64::total_cmp);
            Paired {
                label,
                ratio: ratios[ratios.len() / 2],
                spread: (ratios[0], ratios[ratios.len() - 1]),
            }
        })
        .collect())
}

/// The port of the `127.0.0.1:PORT` argument a server command listens on.
fn listen_port(cmd: &Command) -> Result<u16> {
    cmd.get_args()
        .filter_map(|a| a.to_str()?.strip_prefix("127.0.0.1:")?.parse().ok())
        .next()
        .context("no 127.0.0.1:PORT argument")
}

fn emulator_log() -> PathBuf {
    root().join("target/bench-emulator.log")
}

/// Median of the emulator's own per-request time, from its log: `total` (from the
/// request head parsed by hyper to the response head returned to hyper) minus `backend`
/// (from sending the forwarded request to receiving the component's response head). It
/// leaves out hyper's parsing of the client's request, writing the response and its body,
/// and the second loopback hop; the whole cost of the gateway is (b) - (a) in the table.
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
        let child = spawn_ready(cmd, &format!("127.0.0.1:{port}"), Duration::from_secs(60))
            .with_context(|| format!("starting {cmd:?}"))?;
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
        "{} x {cpu}, {:.0} GiB RAM, Linux {}; {}; {}; {}; Python {}; load: wrk -t1 (Debian), server and load generator share the cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        mem_kb as f64 / 1024.0 / 1024.0,
        command_output("uname", &["-r"]),
        command_output("wasmtime", &["--version"]),
        if find_on_path("spin").is_some() {
            command_output("spin", &["--version"])
        } else {
            "no spin".to_owned()
        },
        command_output("rustc", &["--version"]),
        command_output("python3", &["-c", "import platform; print(platform.python_version())"]),
    )
}

fn render(
    rows: &[Row],
    cold: &[(&str, &str, f64)],
    sizes: &[(&str, u64)],
    args: &BenchArgs,
    paired: &[Paired],
    emulator_internal_ms: f64,
) -> Result<String> {
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
        "Each contender ran alone, `GET /generate_name` with its key (row (a-docs): the docs asset), {} s per connection count after a 2 s warm-up; \
         every response was checked to be 2xx (a run with any error is refused).\n",
        args.duration
    )?;
    render_throughput(&mut out, rows, emulator_internal_ms)?;
    render_spin(&mut out, rows)?;
    render_cold_and_sizes(&mut out, cold, sizes, args.trials)?;
    render_targets(&mut out, rows, cold, args, paired)?;
    Ok(out)
}

fn row<'a>(rows: &'a [Row], key: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.key == key)
}

fn render_throughput(out: &mut String, rows: &[Row], emulator_internal_ms: f64) -> Result<()> {
    let (c, d) = (row(rows, "c").unwrap(), row(rows, "d").unwrap());
    writeln!(out, "## Throughput and latency\n")?;
    writeln!(out, "| contender | conns | req/s | p50 ms | p99 ms | max ms | vs (c) FastAPI | vs (d) native | peak RSS MiB |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in rows {
        for (conns, load) in &r.loads {
            let versus = |base: &Row| base.loads.get(conns).map_or(f64::NAN, |b| load.rps / b.rps);
            writeln!(
                out,
                "| ({}) {} | {conns} | {:.0} | {:.3} | {:.3} | {:.2} | {:.2}x | {:.2}x | {:.1} |",
                r.key,
                r.label,
                load.rps,
                load.p50_ms,
                load.p99_ms,
                load.max_ms,
                versus(c),
                versus(d),
                r.peak_rss_kb as f64 / 1024.0
            )?;
        }
    }
    let added = row(rows, "b")
        .zip(row(rows, "a"))
        .and_then(|(b, a)| Some(b.loads.get(&1)?.p50_ms - a.loads.get(&1)?.p50_ms))
        .unwrap_or(f64::NAN);
    writeln!(
        out,
        "\nPeak RSS of (b) is the component host plus the emulator. What the gateway adds, end to end \
         ((b) - (a), p50 at 1 connection): {added:.3} ms. Of that, the emulator's own code (median of its log's \
         `total` - `backend`: from the request head parsed to the response head ready, minus the forwarded \
         request's round trip; it leaves out parsing the client's request, writing the response, and the \
         second loopback hop): {emulator_internal_ms:.3} ms.\n"
    )?;
    Ok(())
}

/// The issue-8 table: each documented Spin configuration against the hello-world floor
/// on the same `spin up`.
fn render_spin(out: &mut String, rows: &[Row]) -> Result<()> {
    let Some(floor) = row(rows, "s-h") else {
        writeln!(
            out,
            "## Spin\n\n`spin` was not on PATH: no `spin up` rows in this run.\n"
        )?;
        return Ok(());
    };
    writeln!(
        out,
        "## Spin configurations (`spin up`, against the hello-world floor on the same Spin)\n"
    )?;
    writeln!(out, "| configuration | 1 conn req/s | p50 ms | p50 / floor's | 16 conn req/s | p99 ms | req/s / floor's |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
    for r in rows.iter().filter(|r| r.key.starts_with("s-")) {
        let (Some(one), Some(sixteen)) = (r.loads.get(&1), r.loads.get(&16)) else {
            continue;
        };
        let (floor_one, floor_sixteen) = (&floor.loads[&1], &floor.loads[&16]);
        writeln!(
            out,
            "| ({}) {} | {:.0} | {:.3} | {:.2}x | {:.0} | {:.3} | {:.2}x |",
            r.key,
            r.label,
            one.rps,
            one.p50_ms,
            one.p50_ms / floor_one.p50_ms,
            sixteen.rps,
            sixteen.p99_ms,
            sixteen.rps / floor_sixteen.rps
        )?;
    }
    writeln!(
        out,
        "\nBound (issue 8): every documented configuration at least 0.9x the floor's req/s at 16 connections \
         and at most 1.2x its p50 at 1 connection.\n"
    )?;
    // What one read costs, from the floor-plus-reads rows (p50 at one connection).
    let per_read_us = |key: &str, reads: f64| {
        let r = row(rows, key)?.loads.get(&1)?;
        Some((r.p50_ms - floor.loads[&1].p50_ms) * 1000.0 / reads)
    };
    if let (Some(static_us), Some(env_us)) = (per_read_us("s-v6", 6.0), per_read_us("s-v1env", 1.0))
    {
        writeln!(
            out,
            "One `variables::get` adds about {static_us:.1} us to p50 on the static provider \
             ((s-v6) - (s-h), over 6 reads) and {env_us:.0} us on the environment provider \
             ((s-v1env) - (s-h)).\n"
        )?;
    }
    Ok(())
}

fn render_cold_and_sizes(
    out: &mut String,
    cold: &[(&str, &str, f64)],
    sizes: &[(&str, u64)],
    trials: usize,
) -> Result<()> {
    writeln!(
        out,
        "## Cold start (launch to first 200, median of {trials})\n"
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
    Ok(())
}

fn render_targets(
    out: &mut String,
    rows: &[Row],
    cold: &[(&str, &str, f64)],
    args: &BenchArgs,
    paired: &[Paired],
) -> Result<()> {
    let (a, b, c) = (
        row(rows, "a").unwrap(),
        row(rows, "b").unwrap(),
        row(rows, "c").unwrap(),
    );
    let cold_of = |label_start: &str| {
        cold.iter()
            .find(|(_, l, _)| l.starts_with(label_start))
            .map(|(_, _, ms)| *ms)
            .unwrap_or(f64::NAN)
    };
    let a_cold = cold_of("name-api, wasmtime serve, cached");
    let c_cold = cold_of("FastAPI");
    let c16 = 16.min(*args.connections.iter().max().unwrap_or(&16));
    let mut targets: Vec<(String, Option<f64>, f64, bool)> = paired
        .iter()
        .map(|p| {
            (
                format!("{} within 10% of the floor's req/s (16 connections, median of alternating rounds)", p.label),
                Some(p.ratio),
                0.90,
                true,
            )
        })
        .collect();
    targets.extend([
        (
            "(a) at least 1.4x (c) req/s at 16 connections".to_owned(),
            a.loads
                .get(&c16)
                .zip(c.loads.get(&c16))
                .map(|(a, c)| a.rps / c.rps),
            1.4,
            true,
        ),
        (
            "(a) p50 at 1 connection no higher than (c)'s (ratio a/c)".to_owned(),
            a.loads
                .get(&1)
                .zip(c.loads.get(&1))
                .map(|(a, c)| a.p50_ms / c.p50_ms),
            1.0,
            false,
        ),
        (
            "(a) launch to first 200 at least 10x faster than (c)".to_owned(),
            Some(c_cold / a_cold),
            10.0,
            true,
        ),
        (
            "(b) adds at most 0.1 ms to p50 at 1 connection (ms added)".to_owned(),
            b.loads
                .get(&1)
                .zip(a.loads.get(&1))
                .map(|(b, a)| b.p50_ms - a.p50_ms),
            0.1,
            false,
        ),
    ]);
    if let Some(floor) = row(rows, "s-h") {
        for key in ["s-local", "s-rc"] {
            let Some(r) = row(rows, key) else { continue };
            targets.push((
                format!("({key}) p50 at 1 connection at most 1.2x (s-h)'s"),
                r.loads
                    .get(&1)
                    .zip(floor.loads.get(&1))
                    .map(|(r, f)| r.p50_ms / f.p50_ms),
                1.2,
                false,
            ));
        }
    }
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
    Ok(())
}
