//! Where things are in the repository.

use std::path::{Path, PathBuf};

/// The repository root (the workspace root, two levels above this crate).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tools/xtask sits two levels below the root")
        .to_path_buf()
}

/// The committed OpenAPI document.
pub fn openapi_json() -> PathBuf {
    root().join("static-docs").join("openapi.json")
}

/// The vendored docs directory.
pub fn static_docs() -> PathBuf {
    root().join("static-docs")
}
