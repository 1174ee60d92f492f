//! Vendoring Swagger UI from the npm package `swagger-ui-dist` into `static-docs/`.
//!
//! `cargo xtask vendor-docs` downloads the pinned version with `npm pack` (the registry,
//! no CDN), copies the files the page needs plus the licence files, and strips the CSS
//! source-map comment (the map is not vendored: it would only 404). To upgrade, change
//! [`SWAGGER_UI_VERSION`] and run it again. `--check` repeats the download and fails if
//! the committed files differ, which the test suite runs.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::paths::static_docs;
use crate::run;

/// The pinned `swagger-ui-dist` version.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// Files taken from the package, unchanged except for source-map comments.
pub const FILES: &[&str] = &[
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-16x16.png",
    "favicon-32x32.png",
    "LICENSE",
    "NOTICE",
    "swagger-ui-bundle.js.LICENSE.txt",
];

/// Fetch, unpack and copy (or compare, with `check`).
pub fn run_vendor(check: bool) -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("name-api-vendor-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = vendor_into(&scratch, check);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn vendor_into(scratch: &Path, check: bool) -> Result<()> {
    run(Command::new("npm").current_dir(scratch).args([
        "pack",
        "--silent",
        &format!("swagger-ui-dist@{SWAGGER_UI_VERSION}"),
    ]))
    .context("npm pack swagger-ui-dist (is npm installed?)")?;
    let tarball = format!("swagger-ui-dist-{SWAGGER_UI_VERSION}.tgz");
    run(Command::new("tar")
        .current_dir(scratch)
        .args(["xzf", &tarball]))?;
    let package = scratch.join("package");
    let mut stale = Vec::new();
    for file in FILES {
        let mut bytes =
            std::fs::read(package.join(file)).with_context(|| format!("{file} not in package"))?;
        if file.ends_with(".css") || file.ends_with(".js") {
            bytes = strip_source_map(&bytes);
        }
        let dest = static_docs().join(file);
        if check {
            if std::fs::read(&dest).ok().as_deref() != Some(&bytes[..]) {
                stale.push(*file);
            }
        } else {
            std::fs::write(&dest, bytes)?;
        }
    }
    if !stale.is_empty() {
        bail!("vendored Swagger UI differs from swagger-ui-dist@{SWAGGER_UI_VERSION}: {stale:?}; run `cargo xtask vendor-docs`");
    }
    println!(
        "vendor-docs: swagger-ui-dist@{SWAGGER_UI_VERSION} {}",
        if check {
            "matches static-docs/"
        } else {
            "copied to static-docs/"
        }
    );
    Ok(())
}

/// Remove `/*# sourceMappingURL=... */` and `//# sourceMappingURL=...` comments.
fn strip_source_map(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let kept: Vec<&str> = text
        .split_inclusive('\n')
        .map(|line| {
            match line
                .find("/*# sourceMappingURL=")
                .or_else(|| line.find("//# sourceMappingURL="))
            {
                Some(at) => &line[..at],
                None => line,
            }
        })
        .collect();
    kept.concat().into_bytes()
}
