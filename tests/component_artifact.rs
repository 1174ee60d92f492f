//! The built artifacts: what the component imports and exports, and that the composition
//! removed only Spin's variables import.

use crate::common;

use std::collections::BTreeSet;

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
