//! `cargo xtask serve`: the service locally, in the production shape: the component on a
//! real WASI HTTP host, requiring its backend key, and `apim-emulator` in front of it,
//! injecting that key, enforcing subscription keys, running the policies from `infra/`.
//!
//! The host is `spin up` when Spin is installed, otherwise `wasmtime serve` with the
//! composed component (same component, variables from the environment). Spin gets its
//! variables from a runtime config with a static provider, written to a 0600 temporary
//! file for the run (never argv; the environment provider would cost about 25 ms per read).
//! The two backend credentials and the subscription key are generated for each run, or
//! read from a git-ignored `.env` (`SPIN_VARIABLE_BACKEND_KEY=...`,
//! `SPIN_VARIABLE_DOCS_BACKEND_KEY=...`, `APIM_SUBSCRIPTION_KEY=...`). The subscription key
//! is printed (you need it for Authorize); the backend credentials never are.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::artifacts;
use crate::credentials::{Credentials, RuntimeConfigFile};
use crate::paths::root;
use crate::procs::{self, wait_for_200, Guard};
use crate::setup::{self, SetupArgs};

#[derive(Args)]
pub struct ServeArgs {
    /// Loopback port of the gateway (what you open in a browser).
    #[arg(long, env = "NAME_API_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Loopback port of the component behind it.
    #[arg(long, env = "NAME_API_BACKEND_PORT", default_value_t = 3000)]
    pub backend_port: u16,
    /// Host to run on: `auto` picks spin when installed, else wasmtime.
    #[arg(long, value_parser = ["auto", "spin", "wasmtime"], default_value = "auto")]
    pub host: String,
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let tools = setup::ensure(&SetupArgs { serve_only: true })?;
    let env_file = read_env_file()?;
    let from_env_file = |name: &str| env_file.get(name).cloned().unwrap_or_else(random_key);
    let credentials = Credentials {
        api: from_env_file("SPIN_VARIABLE_BACKEND_KEY"),
        docs: from_env_file("SPIN_VARIABLE_DOCS_BACKEND_KEY"),
    };
    let subscription_key = env_file
        .get("APIM_SUBSCRIPTION_KEY")
        .cloned()
        .unwrap_or_else(random_key);
    let backend_addr = format!("127.0.0.1:{}", args.backend_port);
    let gateway_addr = format!("127.0.0.1:{}", args.port);
    let use_spin = match args.host.as_str() {
        "spin" => true,
        "wasmtime" => false,
        _ => tools.spin.is_some(),
    };

    let emulator = procs::build_release_emulator()?;
    // Production configuration, through Spin variables as SpinKube gives them.
    let mut runtime_config = None;
    let mut host = if use_spin {
        let Some(spin) = tools.spin else {
            bail!("spin is not on PATH")
        };
        let config = runtime_config.insert(RuntimeConfigFile::write(&credentials.variables())?);
        let mut cmd = Command::new(spin);
        cmd.current_dir(root())
            .args(["up", "--build", "--listen", &backend_addr])
            .arg("--runtime-config-file")
            .arg(config.path());
        cmd
    } else {
        let Some(wasmtime) = tools.wasmtime else {
            bail!("wasmtime is not installed")
        };
        let built = artifacts::build(true)?;
        let env = credentials.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        procs::wasmtime_serve(&wasmtime, &built.composed, &backend_addr, &[], &env)
    };
    let mut host = Guard(host.spawn().context("starting the WASI host")?);
    wait_for_200(&backend_addr, None, &mut host.0, Duration::from_secs(120))?;
    // Spin has read its runtime config: the file with the secrets need not outlive startup.
    drop(runtime_config);

    let mut gateway = Guard(
        Command::new(emulator)
            .env("APIM_EMULATOR_LISTEN", &gateway_addr)
            .env("APIM_EMULATOR_BACKEND", format!("http://{backend_addr}"))
            .env("APIM_EMULATOR_SUBSCRIPTION_KEYS", &subscription_key)
            .env("APIM_EMULATOR_NAMED_VALUES", credentials.named_values())
            .env("APIM_EMULATOR_ROOT", root())
            .spawn()
            .context("starting apim-emulator")?,
    );
    wait_for_200(&gateway_addr, None, &mut gateway.0, Duration::from_secs(20))?;

    println!();
    println!(
        "name-api is running on {} behind apim-emulator:",
        if use_spin {
            "spin up"
        } else {
            "wasmtime serve"
        }
    );
    println!("  docs (no key):     http://{gateway_addr}/public/docs");
    println!("  OpenAPI (no key):  http://{gateway_addr}/public/openapi.json");
    println!("  API (key needed):  http://{gateway_addr}/api/generate_name?starts_with=N");
    println!("  subscription key:  {subscription_key}");
    println!("    curl -H 'Ocp-Apim-Subscription-Key: {subscription_key}' 'http://{gateway_addr}/api/generate_name'");
    println!(
        "  the component itself (http://{backend_addr}) answers only the gateway (backend key)."
    );
    println!("Ctrl-C stops both.");
    loop {
        for (name, child) in [
            ("WASI host", &mut host.0),
            ("apim-emulator", &mut gateway.0),
        ] {
            if let Some(status) = child.try_wait()? {
                bail!("{name} exited ({status})");
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// 32 random bytes from the OS, hex-encoded.
fn random_key() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("reading /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `KEY=VALUE` lines of `.env` at the repository root, if there is one.
fn read_env_file() -> Result<BTreeMap<String, String>> {
    let path = root().join(".env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(BTreeMap::new());
    };
    let mut values = BTreeMap::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (key, value) = line
            .split_once('=')
            .with_context(|| format!("{}: not KEY=VALUE: {line}", path.display()))?;
        values.insert(
            key.trim().to_owned(),
            value.trim().trim_matches('"').to_owned(),
        );
    }
    Ok(values)
}
