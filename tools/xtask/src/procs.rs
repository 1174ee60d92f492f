//! What xtask adds to the processes [`local_stack`] starts: `cargo` of this toolchain, the
//! release build of the emulator those processes include, and memory readings of a
//! running child (`bench`, `soak`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::paths::root;
use crate::run;

/// `cargo` of the toolchain running xtask, in the repository root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root());
    cmd
}

/// `cargo build --release --package apim-emulator`; the binary is `target/release/apim-emulator`.
pub fn build_release_emulator() -> Result<PathBuf> {
    run(cargo().args(["build", "--release", "--package", "apim-emulator"]))?;
    Ok(root().join("target/release/apim-emulator"))
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
