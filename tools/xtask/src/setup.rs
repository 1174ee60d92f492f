//! Installing what the service and the tests need, idempotently: anything already present
//! is reused, so a warm machine pays a few hundred milliseconds.
//!
//! - the `wasm32-wasip2` Rust target (rustup);
//! - a WASI HTTP host: `spin` if on PATH, else `wasmtime` (installed with `cargo install
//!   --locked wasmtime-cli@48.0.8`, the features `serve` needs);
//! - for the tests: Chromium and ChromeDriver, Node.js and npm, Python's venv (Debian
//!   packages, via `apt-get`, with `sudo` when not root), `playwright-core` (npm, from the
//!   lock file in `tests/browser/`), Spectral and its OWASP ruleset (npm, `tests/lint/`), `schemathesis` + `openapi-spec-validator` (PyPI,
//!   pinned in `tests/conformance/requirements.txt`, into `.venv/`), and the offline
//!   infrastructure checkers (checkov, Bicep parsers, kubernetes-validate, yamllint;
//!   `tests/infra/requirements.txt`, into `.venv-infra/`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::paths::root;
use crate::run;

/// The wasmtime release the project is tested with.
pub const WASMTIME_VERSION: &str = "48.0.8";

#[derive(Args, Default)]
pub struct SetupArgs {
    /// Only what `serve` needs (wasm target and a host), not the test tools.
    #[arg(long)]
    pub serve_only: bool,
}

/// Paths of the installed tools.
pub struct Tools {
    pub wasmtime: Option<PathBuf>,
    pub spin: Option<PathBuf>,
    pub venv_bin: PathBuf,
}

pub fn ensure(args: &SetupArgs) -> Result<Tools> {
    ensure_wasm_target()?;
    let spin = find_on_path("spin");
    let mut wasmtime = find_wasmtime();
    if wasmtime.is_none() && (spin.is_none() || !args.serve_only) {
        install_wasmtime()?;
        wasmtime = find_wasmtime();
    }
    if !args.serve_only {
        ensure_debian_packages()?;
        ensure_node_modules()?;
        ensure_venv(".venv", "tests/conformance/requirements.txt")?;
        // checkov's large dependency tree gets a venv of its own.
        ensure_venv(".venv-infra", "tests/infra/requirements.txt")?;
    }
    Ok(Tools {
        wasmtime,
        spin,
        venv_bin: root().join(".venv").join("bin"),
    })
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is required (https://rustup.rs)")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == crate::artifacts::WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", crate::artifacts::WASM_TARGET]))
}

/// An executable called `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// `wasmtime` on PATH or in cargo's bin directory, if it runs.
pub fn find_wasmtime() -> Option<PathBuf> {
    let cargo_bin = cargo_home().join("bin").join("wasmtime");
    let candidate =
        find_on_path("wasmtime").or_else(|| cargo_bin.is_file().then_some(cargo_bin))?;
    let version = Command::new(&candidate).arg("--version").output().ok()?;
    if !version.status.success() {
        return None;
    }
    let version = String::from_utf8_lossy(&version.stdout);
    if !version.contains(&format!(
        " {}.",
        WASMTIME_VERSION.split('.').next().unwrap_or("48")
    )) {
        println!(
            "setup: using {} ({}); the project is tested with {WASMTIME_VERSION}",
            candidate.display(),
            version.trim()
        );
    }
    Some(candidate)
}

/// `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

fn install_wasmtime() -> Result<()> {
    println!("setup: installing wasmtime-cli {WASMTIME_VERSION} with cargo (about 7 minutes on 2 cores, once)");
    run(crate::procs::cargo().args([
        "install",
        "--locked",
        &format!("wasmtime-cli@{WASMTIME_VERSION}"),
        "--no-default-features",
        "--features",
        "run,serve,cranelift,cache,parallel-compilation,pooling-allocator,component-model-async",
    ]))
}

/// Debian packages the tests use, by the command that shows each is present.
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("node", "nodejs"),
    ("npm", "npm"),
];

fn ensure_debian_packages() -> Result<()> {
    let mut missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .filter(|(command, _)| find_on_path(command).is_none())
        .map(|(_, package)| *package)
        .collect();
    let python_has_venv = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !python_has_venv {
        missing.push("python3-venv");
    }
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// Install Debian packages with `apt-get` (after `apt-get update`), through `sudo` when not
/// root.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    if find_on_path("apt-get").is_none() {
        bail!("missing {packages:?} and no apt-get to install them: install them by hand");
    }
    println!("setup: installing Debian packages {packages:?}");
    let sudo = !is_root();
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(packages);
    apt(&install)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The npm packages of the browser test (`tests/browser`) and of the OpenAPI lint
/// (`tests/lint`), each from its lock file, without install scripts (none is needed).
fn ensure_node_modules() -> Result<()> {
    for dir in ["browser", "lint"] {
        let dir = root().join("tests").join(dir);
        let marker = dir.join("node_modules").join(".package-lock.json");
        let lock = dir.join("package-lock.json");
        if is_newer(&marker, &lock) {
            continue;
        }
        run(Command::new("npm").current_dir(&dir).args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--silent",
        ]))?;
    }
    Ok(())
}

/// A venv at `dir` with `requirements` installed (again only when the file changed).
fn ensure_venv(dir: &str, requirements: &str) -> Result<()> {
    let venv = root().join(dir);
    let requirements = root().join(requirements);
    let marker = venv.join(".requirements-installed");
    if is_newer(&marker, &requirements) {
        return Ok(());
    }
    if !venv.join("bin").join("python").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(marker, "")?;
    Ok(())
}

/// Whether `marker` exists and is at least as new as `source`.
fn is_newer(marker: &Path, source: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    matches!((modified(marker), modified(source)), (Some(m), Some(s)) if m >= s)
}
