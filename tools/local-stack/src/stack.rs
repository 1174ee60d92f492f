//! The local stack: the component in production mode on a WASI host, `apim-emulator` in
//! front injecting its credentials. `cargo xtask serve`, `soak` and `verify` start it from
//! [`StackOptions`] and get back the addresses and keys.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::credentials::{Credentials, RuntimeConfigFile};
use crate::emulator::emulator_command;
use crate::guard::Guard;
use crate::host::{spin_up, wasmtime_serve, PRODUCTION_FLAGS};
use crate::ready::wait_for_200;
use crate::repo_root;

/// Which WASI host runs the component.
pub enum HostProgram {
    /// `wasmtime serve` with the composed component (variables from the environment).
    Wasmtime {
        wasmtime: PathBuf,
        composed: PathBuf,
    },
    /// `spin up --build` of `spin.toml`, variables from a static-provider runtime config.
    Spin { spin: PathBuf },
}

impl HostProgram {
    pub fn name(&self) -> &'static str {
        match self {
            HostProgram::Wasmtime { .. } => "wasmtime serve",
            HostProgram::Spin { .. } => "spin up",
        }
    }

    /// The host on `addr` in production mode with `credentials`, and for Spin the runtime
    /// config file that holds them (keep it until the host has read it).
    fn command(
        &self,
        addr: &str,
        credentials: &Credentials,
    ) -> Result<(Command, Option<RuntimeConfigFile>)> {
        Ok(match self {
            HostProgram::Spin { spin } => {
                let config = RuntimeConfigFile::write(&credentials.variables())?;
                let mut cmd = spin_up(spin, addr);
                cmd.arg("--build")
                    .arg("--runtime-config-file")
                    .arg(config.path());
                (cmd, Some(config))
            }
            HostProgram::Wasmtime { wasmtime, composed } => {
                let variables = credentials.variables();
                let cmd = wasmtime_serve(wasmtime, composed, addr, &PRODUCTION_FLAGS, &variables);
                (cmd, None)
            }
        })
    }
}

/// What [`Stack::start`] starts, and with which keys.
pub struct StackOptions {
    pub host: HostProgram,
    /// Loopback ports of the component and of the gateway.
    pub host_port: u16,
    pub gateway_port: u16,
    /// The component's production configuration (both backend credentials).
    pub credentials: Credentials,
    /// The gateway's subscription keys (the first is the one to use; e.g. a primary and a
    /// secondary key).
    pub subscription_keys: Vec<String>,
    /// Named values beside the credentials (`("rate-limit-calls", "5")`).
    pub named_values: Vec<(String, String)>,
    /// The `apim-emulator` binary.
    pub emulator: PathBuf,
    /// Where the children's output goes.
    pub output: Output,
}

/// Where the host's and the emulator's output goes.
#[derive(Clone, Copy)]
pub enum Output {
    /// Both to the terminal (`serve`).
    Terminal,
    /// Discarded (load runs).
    Discard,
    /// Only the emulator's errors (its stderr: a failed start, a backend error) to the
    /// terminal (`verify`, whose own report is the output).
    GatewayErrors,
}

impl Output {
    /// No input for either; output as chosen.
    fn apply(self, host: &mut Command, gateway: &mut Command) {
        host.stdin(Stdio::null());
        gateway.stdin(Stdio::null());
        match self {
            Output::Terminal => {}
            Output::Discard => {
                host.stdout(Stdio::null()).stderr(Stdio::null());
                gateway.stdout(Stdio::null()).stderr(Stdio::null());
            }
            Output::GatewayErrors => {
                host.stdout(Stdio::null()).stderr(Stdio::null());
                gateway.stdout(Stdio::null());
            }
        }
    }
}

/// The running stack. Dropping it stops both processes.
pub struct Stack {
    pub host: Guard,
    pub gateway: Guard,
    /// `127.0.0.1:PORT` of the component and of the gateway.
    pub host_addr: String,
    pub gateway_addr: String,
    pub subscription_keys: Vec<String>,
}

impl Stack {
    /// Start the host, wait until it accepts connections, then the emulator in front of it.
    pub fn start(options: StackOptions) -> Result<Stack> {
        if options.subscription_keys.is_empty() {
            bail!("the gateway needs at least one subscription key");
        }
        let host_addr = format!("127.0.0.1:{}", options.host_port);
        let gateway_addr = format!("127.0.0.1:{}", options.gateway_port);
        // Spin reads the runtime config at start-up; the file with the secrets is removed
        // once the host answers.
        let (mut host, runtime_config) = options.host.command(&host_addr, &options.credentials)?;
        let mut named_values: Vec<(&str, String)> = options.credentials.named_values();
        named_values.extend(
            options
                .named_values
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone())),
        );
        let mut gateway = emulator_command(
            &options.emulator,
            &repo_root(),
            &gateway_addr,
            &format!("http://{host_addr}"),
            &options.subscription_keys,
            &named_values,
        );
        options.output.apply(&mut host, &mut gateway);
        let mut host = Guard(host.spawn().context("starting the WASI host")?);
        wait_for_200(&host_addr, None, &mut host.0, Duration::from_secs(120))?;
        drop(runtime_config);
        let mut gateway = Guard(gateway.spawn().context("starting apim-emulator")?);
        wait_for_200(&gateway_addr, None, &mut gateway.0, Duration::from_secs(30))?;
        Ok(Stack {
            host,
            gateway,
            host_addr,
            gateway_addr,
            subscription_keys: options.subscription_keys,
        })
    }

    /// The first subscription key (the one a client is told to use).
    pub fn subscription_key(&self) -> &str {
        &self.subscription_keys[0]
    }

    /// `http://127.0.0.1:PORT` of the gateway.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway_addr)
    }

    /// Fails when the host or the emulator has exited.
    pub fn check_running(&mut self) -> Result<()> {
        for (name, child) in [
            ("WASI host", &mut self.host.0),
            ("apim-emulator", &mut self.gateway.0),
        ] {
            if let Some(status) = child.try_wait()? {
                bail!("{name} exited ({status})");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_without_a_subscription_key_is_refused_before_anything_starts() {
        let options = StackOptions {
            host: HostProgram::Wasmtime {
                wasmtime: "/nonexistent/wasmtime".into(),
                composed: "/nonexistent/app.wasm".into(),
            },
            host_port: 9,
            gateway_port: 9,
            credentials: Credentials {
                api: "a".into(),
                docs: "d".into(),
            },
            subscription_keys: Vec::new(),
            named_values: Vec::new(),
            emulator: "/nonexistent/apim-emulator".into(),
            output: Output::Discard,
        };
        let error = Stack::start(options).err().expect("refused");
        assert_eq!(
            error.to_string(),
            "the gateway needs at least one subscription key"
        );
    }
}
