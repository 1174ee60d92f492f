//! The built artifacts and the Spin manifest: what the component imports and exports, that
//! the composition removed only Spin's variables import, and that `spin.toml` declares
//! what the code reads.

mod common;

use std::collections::BTreeSet;

use name_api::config;
use wasmparser::{Parser, Payload};

/// Top-level import and export names of a component (nested components and modules,
/// such as the original component inside the composition, are not counted).
fn interfaces(bytes: &[u8]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut imports, mut exports) = (BTreeSet::new(), BTreeSet::new());
    let mut depth = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    imports.insert(import.unwrap().name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.insert(export.unwrap().name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

#[test]
fn component_targets_wasi_http_0_2_and_spin_variables_only() {
    let bytes = std::fs::read(common::component_wasm()).unwrap();
    let (imports, exports) = interfaces(&bytes);
    assert!(
        exports.contains("wasi:http/incoming-handler@0.2.0"),
        "{exports:?}"
    );
    assert!(
        imports.contains("fermyon:spin/variables@2.0.0"),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/types@0.2.")),
        "{imports:?}"
    );
    for import in &imports {
        assert!(
            import.starts_with("wasi:") && import.contains("@0.2.")
                || import == "fermyon:spin/variables@2.0.0",
            "unexpected import {import}: every host must provide what the component imports"
        );
        assert!(
            !import.starts_with("wasi:http/outgoing-handler"),
            "no outbound HTTP"
        );
        assert!(
            !import.contains("@0.3"),
            "wasi:http@0.3 is not portable yet: {import}"
        );
    }
}

#[test]
fn composition_removes_only_the_variables_import() {
    let component = interfaces(&std::fs::read(common::component_wasm()).unwrap());
    let composed = interfaces(&std::fs::read(common::composed_wasm()).unwrap());
    assert!(
        composed.0.iter().all(|i| i.starts_with("wasi:")),
        "{:?}",
        composed.0
    );
    assert!(
        composed.0.contains("wasi:cli/environment@0.2.0")
            || composed
                .0
                .iter()
                .any(|i| i.starts_with("wasi:cli/environment"))
    );
    assert_eq!(composed.1, component.1, "same exports");
    let component_wasi: BTreeSet<_> = component
        .0
        .iter()
        .filter(|i| i.starts_with("wasi:"))
        .collect();
    assert!(
        component_wasi.iter().all(|i| composed.0.contains(*i)),
        "all WASI imports kept"
    );
}

#[test]
fn composed_file_embeds_the_unmodified_component() {
    let component = std::fs::read(common::component_wasm()).unwrap();
    let composed = std::fs::read(common::composed_wasm()).unwrap();
    assert!(
        composed
            .windows(component.len())
            .any(|w| w == component.as_slice()),
        "the composition must contain the component byte for byte"
    );
}

#[test]
fn spin_manifest_declares_what_the_code_reads_with_the_same_defaults() {
    let text = std::fs::read_to_string(common::repo_root().join("spin.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let variables = manifest["variables"].as_table().unwrap();
    let mut declared_names: Vec<&str> = variables.keys().map(String::as_str).collect();
    declared_names.sort_unstable();
    let mut read_names = config::ALL.to_vec();
    read_names.sort_unstable();
    assert_eq!(
        declared_names, read_names,
        "declared = read by the component"
    );
    for (name, default, secret) in [
        (config::BACKEND_KEY, "", true),
        (config::BACKEND_KEY_NEXT, "", true),
        (config::DOCS_BACKEND_KEY, "", true),
        (config::DOCS_BACKEND_KEY_NEXT, "", true),
        (config::API_BASE, config::DEFAULT_API_BASE, false),
        (config::REQUIRE_BACKEND_KEY, "false", false),
    ] {
        let declared = variables[name]
            .as_table()
            .unwrap_or_else(|| panic!("{name} not declared"));
        assert_eq!(declared["default"].as_str(), Some(default), "{name}");
        assert_eq!(
            declared
                .get("secret")
                .and_then(|s| s.as_bool())
                .unwrap_or(false),
            secret,
            "{name}"
        );
        let component = &manifest["component"]["name-api"];
        assert_eq!(
            component["variables"][name].as_str(),
            Some(&format!("{{{{ {name} }}}}")[..]),
            "{name}"
        );
    }
    let component = &manifest["component"]["name-api"];
    assert_eq!(
        component["source"].as_str(),
        Some("target/wasm32-wasip2/release/name_api.wasm")
    );
    assert_eq!(
        component["allowed_outbound_hosts"].as_array().map(Vec::len),
        Some(0)
    );
    let build = component["build"]["command"].as_str().unwrap();
    assert!(
        build.contains("--target wasm32-wasip2") && build.contains("--release"),
        "{build}"
    );
    let trigger = &manifest["trigger"]["http"].as_array().unwrap()[0];
    assert_eq!(trigger["route"].as_str(), Some("/..."));
}

/// `spin-local.toml` (the fast local Spin configuration) answers every variable the
/// component reads from Spin's static provider, with the manifest's defaults: a variable
/// it missed would fall through to the environment provider (about 25 ms per read).
#[test]
fn local_runtime_config_answers_every_variable_statically_with_the_defaults() {
    let read = |file: &str| -> toml::Table {
        std::fs::read_to_string(common::repo_root().join(file))
            .unwrap()
            .parse()
            .unwrap()
    };
    let manifest = read("spin.toml");
    let local = read("spin-local.toml");
    let providers = local["variables_provider"].as_array().unwrap();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0]["type"].as_str(), Some("static"));
    let values = providers[0]["values"].as_table().unwrap();
    let mut names: Vec<&str> = values.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = config::ALL.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for name in config::ALL {
        assert_eq!(
            values[name].as_str(),
            manifest["variables"][name]["default"].as_str(),
            "{name}"
        );
    }
}
