//! The processes `serve`, `bench` and `soak` start: the local stack ([`Stack`]: the
//! component on a WASI host, `apim-emulator` in front of it), the commands it is made of
//! (for `bench`, which starts contenders one by one), the emulator build, readiness
//! checks, memory readings, and the guard that stops a child when the task ends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::credentials::{Credentials, RuntimeConfigFile};
use crate::paths::root;
use crate::{run, setup};

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
}

/// What [`Stack::start`] starts, and with which keys.
pub struct StackOptions {
    pub host: HostProgram,
    /// Loopback ports of the component and of the gateway.
    pub host_port: u16,
    pub gateway_port: u16,
    /// The component's production configuration (both backend credentials).
    pub credentials: Credentials,
    pub subscription_key: String,
    /// Named values beside the credentials (`rate-limit-calls=5`).
    pub named_values: Vec<String>,
    /// The `apim-emulator` binary ([`build_release_emulator`]).
    pub emulator: PathBuf,
    /// Discard the children's output (load runs); otherwise it goes to the terminal.
    pub quiet: bool,
}

/// The running stack: the component in production mode behind the emulator, which
/// injects its credentials. Dropping it stops both.
pub struct Stack {
    pub host: Guard,
    pub gateway: Guard,
    /// `127.0.0.1:PORT` of the component and of the gateway.
    pub host_addr: String,
    pub gateway_addr: String,
    pub subscription_key: String,
}

impl Stack {
    /// Start the host, wait until it accepts connections, then the emulator in front of it.
    pub fn start(options: StackOptions) -> Result<Stack> {
        let host_addr = format!("127.0.0.1:{}", options.host_port);
        let gateway_addr = format!("127.0.0.1:{}", options.gateway_port);
        // Spin reads the runtime config at start-up; the file with the secrets is removed
        // once the host answers.
        let mut runtime_config = None;
        let mut host = match &options.host {
            HostProgram::Spin { spin } => {
                let config = runtime_config
                    .insert(RuntimeConfigFile::write(&options.credentials.variables())?);
                let mut cmd = Command::new(spin);
                cmd.current_dir(root())
                    .args(["up", "--build", "--listen", &host_addr])
                    .arg("--runtime-config-file")
                    .arg(config.path());
                cmd
            }
            HostProgram::Wasmtime { wasmtime, composed } => {
                let env = options.credentials.env();
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                wasmtime_serve(wasmtime, composed, &host_addr, &[], &env)
            }
        };
        let mut named_values = vec![options.credentials.named_values()];
        named_values.extend(options.named_values.iter().cloned());
        let mut gateway = emulator_command(
            &options.emulator,
            &gateway_addr,
            &format!("http://{host_addr}"),
            &options.subscription_key,
            &named_values.join(","),
        );
        for cmd in [&mut host, &mut gateway] {
            cmd.stdin(Stdio::null());
            if options.quiet {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
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
            subscription_key: options.subscription_key,
        })
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

/// `apim-emulator` on `listen` in front of `backend`, with the declarations of this
/// checkout; the subscription key and named values go through the environment, never argv.
pub fn emulator_command(
    emulator: &Path,
    listen: &str,
    backend: &str,
    subscription_key: &str,
    named_values: &str,
) -> Command {
    let mut cmd = Command::new(emulator);
    cmd.env("APIM_EMULATOR_LISTEN", listen)
        .env("APIM_EMULATOR_BACKEND", backend)
        .env("APIM_EMULATOR_SUBSCRIPTION_KEYS", subscription_key)
        .env("APIM_EMULATOR_NAMED_VALUES", named_values)
        .env("APIM_EMULATOR_ROOT", root());
    cmd
}

/// `cargo` of the toolchain running xtask, in the repository root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root());
    cmd
}

/// Kills its process when dropped (Ctrl-C, errors, end of a measurement).
pub struct Guard(pub Child);

impl Drop for Guard {
    /// SIGTERM first, SIGKILL after 5 s: `spin up` runs its trigger as a child process and
    /// stops it only when it is itself asked to stop; killing `spin up` outright would
    /// leave `spin trigger http` serving (orphaned) on the port.
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            if let Ok(pid) = libc::pid_t::try_from(self.0.id()) {
                // SAFETY: kill(2) on the pid of a child this guard owns and has not reaped.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `wasmtime serve` for `wasm` on `addr` with the project's flags
/// ([`setup::WASMTIME_SERVE_FLAGS`]), `extra` flags, and Spin variables passed through the
/// environment (`--env NAME`, never the value on the command line).
pub fn wasmtime_serve(
    wasmtime: &Path,
    wasm: &Path,
    addr: &str,
    extra: &[&str],
    variables: &[(&str, &str)],
) -> Command {
    let mut cmd = Command::new(wasmtime);
    cmd.arg("serve")
        .args(setup::WASMTIME_SERVE_FLAGS)
        .args(extra)
        .args(["--addr", addr]);
    for (name, _) in variables {
        cmd.args(["--env", name]);
    }
    cmd.envs(variables.iter().copied()).arg(wasm);
    cmd
}

/// `cargo build --release --package apim-emulator`; the binary is `target/release/apim-emulator`.
pub fn build_release_emulator() -> Result<PathBuf> {
    run(cargo().args(["build", "--release", "--package", "apim-emulator"]))?;
    Ok(root().join("target/release/apim-emulator"))
}

/// One `GET` over a fresh connection (`Connection: close`); the raw response.
pub fn raw_get(addr: &str, path: &str, headers: &[(&str, String)]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // Bytes, not `read_to_string`: a binary body (a gzipped asset) is still an answer.
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Poll until `addr` accepts connections and, given a request, answers it with `200`;
/// fail if `child` exits first or `limit` passes.
pub fn wait_for_200(
    addr: &str,
    request: Option<(&str, &[(&str, String)])>,
    child: &mut Child,
    limit: Duration,
) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait()? {
            bail!("server exited before answering on {addr} ({status})");
        }
        match request {
            None if TcpStream::connect(addr).is_ok() => return Ok(()),
            Some((path, headers))
                if raw_get(addr, path, headers).is_ok_and(|r| r.starts_with("HTTP/1.1 200")) =>
            {
                return Ok(())
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!("no answer from {addr} within {limit:?}")
}

/// A `kB` field of `/proc/PID/status` (`VmRSS:` now, `VmHWM:` peak); 0 if unreadable.
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
