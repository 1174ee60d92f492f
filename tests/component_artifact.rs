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

/// The component's imports, exactly as the README ("Hosts and portability") lists them:
/// no outbound HTTP, no file system, no clocks, nothing of `wasi:http@0.3`.
const IMPORTS: [&str; 17] = [
    "fermyon:spin/variables@2.0.0",
    "wasi:cli/environment@0.2.6",
    "wasi:cli/exit@0.2.6",
    "wasi:cli/stdin@0.2.6",
    "wasi:cli/stdout@0.2.6",
    "wasi:cli/stderr@0.2.6",
    "wasi:cli/terminal-input@0.2.6",
    "wasi:cli/terminal-output@0.2.6",
    "wasi:cli/terminal-stdin@0.2.6",
    "wasi:cli/terminal-stdout@0.2.6",
    "wasi:cli/terminal-stderr@0.2.6",
    "wasi:http/types@0.2.6",
    "wasi:io/error@0.2.6",
    "wasi:io/poll@0.2.6",
    "wasi:io/streams@0.2.6",
    "wasi:random/insecure-seed@0.2.6",
    "wasi:random/random@0.2.6",
];

#[test]
fn component_imports_exactly_what_the_readme_lists() {
    let bytes = std::fs::read(common::component_wasm()).unwrap();
    let (imports, exports) = interfaces(&bytes);
    let expected: BTreeSet<String> = IMPORTS.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        imports, expected,
        "every host must provide what the component imports; update the README's list"
    );
    assert_eq!(
        exports,
        BTreeSet::from(["wasi:http/incoming-handler@0.2.0".to_owned()])
    );
}

#[test]
fn composition_removes_only_the_variables_import() {
    let component = interfaces(&std::fs::read(common::component_wasm()).unwrap());
    let composed = interfaces(&std::fs::read(common::composed_wasm()).unwrap());
    let mut expected = component.0.clone();
    assert!(expected.remove("fermyon:spin/variables@2.0.0"));
    // The plug reads the environment, which the component's std already imports.
    assert!(expected.contains("wasi:cli/environment@0.2.6"));
    assert_eq!(composed.0, expected, "the same WASI imports, nothing else");
    assert_eq!(composed.1, component.1, "same exports");
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
