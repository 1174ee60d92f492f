//! What `build.rs` embeds from `static-docs/`: the docs files as a table of [`Asset`]s
//! (served by `docs`) and the OpenAPI document with its hash and the position of its server
//! URL (served by `openapi`). Generated at build time; nothing here is written by hand but
//! the [`Asset`] shape.

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    /// `ETag` of the identity (uncompressed) representation.
    pub etag: &'static str,
    /// `ETag` of the gzip representation (when `gzipped`).
    pub gzip_etag: &'static str,
    /// Whether `body` is gzip (text assets) rather than the file itself.
    pub gzipped: bool,
    /// Length of the uncompressed file.
    pub identity_len: usize,
    pub body: &'static [u8],
}
include!(concat!(env!("OUT_DIR"), "/static_docs.rs"));
