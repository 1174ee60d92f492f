//! The processes `serve`, `bench` and `soak` start: the WASI host with the project's
//! flags, the emulator build, readiness checks, memory readings, and the guard that stops
//! a child when the task ends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::paths::root;
use crate::{run, setup};

/// Kills its process when dropped (Ctrl-C, errors, end of a measurement).
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
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
pub fn build_release_emulator() -> Result<std::path::PathBuf> {
    run(Command::new(env!("CARGO")).current_dir(root()).args([
        "build",
        "--release",
        "--package",
        "apim-emulator",
    ]))?;
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
