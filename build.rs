//! Embeds `static-docs/` into the component as a fixed table, computed at build time.
//!
//! Each file becomes an entry with its content type and a content-hash `ETag`, so the
//! component does no hashing, parsing or directory access per request, and a request
//! path can only ever select one of these entries (no traversal is possible). The
//! OpenAPI document's `servers[0].url` is located here so the component can substitute
//! the configured base without parsing JSON at run time.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

use flate2::{write::GzEncoder, Compression};
use sha2::{Digest, Sha256};
use std::io::Write as _;

const DOCS_DIR: &str = "static-docs";
const OPENAPI_FILE: &str = "openapi.json";

/// Linear-memory stack of the component. Rust's default is 1 MiB; the handler needs a few
/// KiB. Every instance's memory is reset between requests (by the host's pooling
/// allocator), so a smaller memory is a cheaper request: see bench/RESULTS.md.
const WASM_STACK_BYTES: u32 = 128 * 1024;

fn main() {
    println!("cargo:rerun-if-changed={DOCS_DIR}");
    if env::var("TARGET").is_ok_and(|t| t.starts_with("wasm32")) {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={WASM_STACK_BYTES}");
    }
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join(DOCS_DIR);
    let mut out = String::new();

    let openapi_path = root.join(OPENAPI_FILE);
    println!("cargo:rerun-if-changed={}", openapi_path.display());
    let openapi = fs::read_to_string(&openapi_path)
        .unwrap_or_else(|e| panic!("{}: {e}", openapi_path.display()));
    let url_at = server_url_offset(&openapi);
    writeln!(out, "/// `static-docs/openapi.json`, verbatim.").unwrap();
    writeln!(
        out,
        "pub const OPENAPI: &str = include_str!({:?});",
        openapi_path.display().to_string()
    )
    .unwrap();
    writeln!(
        out,
        "/// Byte offset of the `\"/\"` that is `servers[0].url`."
    )
    .unwrap();
    writeln!(out, "pub const OPENAPI_SERVER_URL_AT: usize = {url_at};").unwrap();
    writeln!(
        out,
        "/// Content hash of the document, the base of its `ETag`."
    )
    .unwrap();
    writeln!(
        out,
        "pub const OPENAPI_HASH: &str = {:?};",
        hash(openapi.as_bytes())
    )
    .unwrap();

    let with_docs = env::var_os("CARGO_FEATURE_DOCS").is_some();
    let mut files: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_file())
        .map(|entry| {
            entry
                .file_name()
                .into_string()
                .expect("asset names are UTF-8")
        })
        .filter(|name| name != OPENAPI_FILE && !name.starts_with('.'))
        .collect();
    files.sort();
    writeln!(
        out,
        "/// The docs assets, sorted by name (binary-searchable)."
    )
    .unwrap();
    writeln!(out, "pub static ASSETS: &[Asset] = &[").unwrap();
    for name in files.iter().filter(|_| with_docs) {
        let path = root.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = fs::read(&path).unwrap();
        let etag = hash(&bytes);
        let gzip = gzip_if_smaller(&bytes);
        let (body, gzipped) = match gzip {
            Some(gz) => {
                let gz_path = Path::new(&env::var("OUT_DIR").unwrap()).join(format!("{name}.gz"));
                fs::write(&gz_path, gz).unwrap();
                (gz_path, true)
            }
            None => (path.clone(), false),
        };
        writeln!(
            out,
            "    Asset {{ name: {name:?}, content_type: {:?}, etag: \"\\\"{etag}\\\"\", gzip_etag: \"\\\"{etag}-gz\\\"\", gzipped: {gzipped}, identity_len: {}, body: include_bytes!({:?}) }},",
            content_type(name),
            bytes.len(),
            body.display().to_string(),
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();

    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("static_docs.rs");
    fs::write(dest, out).unwrap();
}

/// Gzip text assets when that saves at least a tenth: the Swagger UI bundle shrinks from
/// 1.7 MB to about 0.5 MB, so the component's linear memory (which the host resets on every
/// request) stays small. Browsers get the gzip as is (`Content-Encoding: gzip`); other
/// clients get it inflated by the component. The header is the plain 10-byte one (no name,
/// no extra fields), so the component finds the deflate stream at a fixed offset.
fn gzip_if_smaller(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).unwrap();
    let gz = encoder.finish().unwrap();
    assert_eq!(gz[3], 0, "gzip header flags must be 0");
    (gz.len() * 10 < bytes.len() * 9).then_some(gz)
}

/// First 16 hex digits of SHA-256: plenty to tell versions apart.
fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "txt" | "" => "text/plain; charset=utf-8",
        _ => panic!("{DOCS_DIR}/{name}: no content type known for .{ext}; add one to build.rs"),
    }
}

/// Where the value `"/"` of `servers[0].url` starts; the build fails if the document
/// does not have exactly that shape, so the run-time substitution cannot go wrong.
fn server_url_offset(doc: &str) -> usize {
    let servers = doc
        .find("\"servers\"")
        .expect("openapi.json has no servers");
    assert_eq!(
        doc.matches("\"servers\"").count(),
        1,
        "servers must appear once"
    );
    let key = servers
        + doc[servers..]
            .find("\"url\"")
            .expect("servers[0] has no url");
    let colon = key + doc[key..].find(':').unwrap();
    let value = colon + 1 + doc[colon + 1..].find('"').unwrap();
    assert_eq!(
        &doc[value..value + 3],
        "\"/\"",
        "servers[0].url must be \"/\" in the file"
    );
    value
}
