//! Building the WebAssembly artifacts: the component, the variables plug, and their
//! composition for hosts without Spin's variables interface.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};

use crate::paths::root;
use crate::procs::cargo;
use crate::run;

/// The target every artifact is built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The built artifacts, by path.
pub struct Artifacts {
    /// `name_api.wasm`, exactly what `spin up` runs.
    pub component: PathBuf,
    /// The component with Spin's variables plugged from the environment, for `wasmtime serve`.
    pub composed: PathBuf,
}

/// Where a release build of `crate_file` (e.g. `name_api`) lands.
pub fn release_wasm(crate_file: &str) -> PathBuf {
    root()
        .join("target")
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{crate_file}.wasm"))
}

/// Build the component (with or without the docs feature), the plug, and compose them.
pub fn build(docs: bool) -> Result<Artifacts> {
    let mut component = cargo_build_wasm("name-api");
    if !docs {
        component.args(["--no-default-features"]);
    }
    run(&mut component)?;
    run(&mut cargo_build_wasm("spin-variables-env"))?;
    let component = release_wasm("name_api");
    let composed = root().join("target").join("name_api.composed.wasm");
    compose(&component, &release_wasm("spin_variables_env"), &composed)?;
    Ok(Artifacts {
        component,
        composed,
    })
}

fn cargo_build_wasm(package: &str) -> Command {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--target",
        WASM_TARGET,
        "--package",
        package,
    ]);
    cmd
}

/// `wac plug`: satisfy the component's `fermyon:spin/variables` import with the plug.
///
/// The component is embedded unmodified; the composed file's only imports are `wasi:*`.
pub fn compose(component: &Path, plug: &Path, out: &Path) -> Result<()> {
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes(
        "name-api:component",
        None,
        read(component)?,
        graph.types_mut(),
    )?;
    let socket = graph.register_package(socket)?;
    let plug = Package::from_bytes(
        "name-api:variables-plug",
        None,
        read(plug)?,
        graph.types_mut(),
    )?;
    let plug = graph.register_package(plug)?;
    wac_graph::plug(&mut graph, vec![plug], socket).context("plugging fermyon:spin/variables")?;
    let bytes = graph.encode(EncodeOptions::default())?;
    if bytes.is_empty() {
        bail!("composition produced nothing");
    }
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))
}
