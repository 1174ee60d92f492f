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
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use local_stack::{Credentials, HostProgram, Output, Stack, StackOptions};

use crate::artifacts;
use crate::paths::root;
use crate::procs;
use crate::setup::{self, SetupArgs};

#[derive(Args)]
pub struct ServeArgs {
    /// Loopback port of the gateway (what you open in a browser).
    #[arg(long, env = "NAME_API_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Loopback port of the component behind it.
    #[arg(long, env = "NAME_API_BACKEND_PORT", default_value_t = 3000)]
    pub backend_port: u16,
    /// Host to run on.
    #[arg(long, value_enum, default_value_t = HostChoice::Auto)]
    pub host: HostChoice,
}

/// The WASI host `serve` runs the component on.
#[derive(Clone, Copy, ValueEnum)]
pub enum HostChoice {
    /// `spin` when it is on PATH, else `wasmtime`.
    Auto,
    Spin,
    Wasmtime,
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let tools = setup::ensure(&SetupArgs { serve_only: true })?;
    let env_file = read_env_file(&root().join(".env"))?;
    let from_env_file = |name: &str| env_file.get(name).cloned().map_or_else(random_key, Ok);
    let credentials = Credentials {
        api: from_env_file("SPIN_VARIABLE_BACKEND_KEY")?,
        docs: from_env_file("SPIN_VARIABLE_DOCS_BACKEND_KEY")?,
    };
    let subscription_key = from_env_file("APIM_SUBSCRIPTION_KEY")?;
    let use_spin = match args.host {
        HostChoice::Spin => true,
        HostChoice::Wasmtime => false,
        HostChoice::Auto => tools.spin.is_some(),
    };
    let host = if use_spin {
        let Some(spin) = tools.spin else {
            bail!("spin is not on PATH")
        };
        HostProgram::Spin { spin }
    } else {
        let Some(wasmtime) = tools.wasmtime else {
            bail!("wasmtime is not installed")
        };
        let composed = artifacts::build(true)?.composed;
        HostProgram::Wasmtime { wasmtime, composed }
    };
    let host_name = host.name();
    let mut stack = Stack::start(StackOptions {
        host,
        host_port: args.backend_port,
        gateway_port: args.port,
        credentials,
        subscription_keys: vec![subscription_key],
        named_values: Vec::new(),
        emulator: procs::build_release_emulator()?,
        output: Output::Terminal,
    })?;
    print_welcome(&stack, host_name);
    loop {
        stack.check_running()?;
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn print_welcome(stack: &Stack, host_name: &str) {
    let (gateway, backend, key) = (
        stack.gateway_url(),
        &stack.host_addr,
        stack.subscription_key(),
    );
    println!();
    println!("name-api is running on {host_name} behind apim-emulator:");
    println!("  docs (no key):     {gateway}/public/docs");
    println!("  OpenAPI (no key):  {gateway}/public/openapi.json");
    println!("  API (key needed):  {gateway}/api/generate_name?starts_with=N");
    println!("  subscription key:  {key}");
    println!("    curl -H 'Ocp-Apim-Subscription-Key: {key}' '{gateway}/api/generate_name'");
    println!("  the component itself (http://{backend}) answers only the gateway (backend key).");
    println!("Ctrl-C stops both.");
}

/// 32 random bytes from the operating system, hex-encoded.
fn random_key() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The variables of a `.env` file (dotenv syntax), if there is one. The process
/// environment is left alone: the values go only where they are needed.
fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>> {
    if !path.is_file() {
        return Ok(BTreeMap::new());
    }
    dotenvy::from_path_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .map(|item| item.with_context(|| format!("{}: not KEY=VALUE", path.display())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_follows_dotenv_syntax_and_a_missing_file_is_empty() {
        let path = std::env::temp_dir().join(format!("name-api-env-{}", std::process::id()));
        std::fs::write(
            &path,
            "# comment\nSPIN_VARIABLE_BACKEND_KEY=\"quoted # not a comment\"\n\
             export APIM_SUBSCRIPTION_KEY='single'\nPLAIN=value # comment\n",
        )
        .unwrap();
        let values = read_env_file(&path).unwrap();
        std::fs::write(&path, "NOT A PAIR\n").unwrap();
        let broken = read_env_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            values["SPIN_VARIABLE_BACKEND_KEY"],
            "quoted # not a comment"
        );
        assert_eq!(values["APIM_SUBSCRIPTION_KEY"], "single");
        assert_eq!(values["PLAIN"], "value");
        assert!(broken.is_err());
        assert!(read_env_file(&path).unwrap().is_empty());
    }
}
