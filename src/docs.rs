//! The interactive docs: Swagger UI, vendored from `swagger-ui-dist`, embedded at build
//! time (see `build.rs`) and served from `/docs` and `/docs/<file>`.
//!
//! Lookup is an exact match of the path's last segment against a table fixed at build
//! time: no file system, no decoding, no `..` handling, so no path can reach anything
//! else. The page refers to its assets and to `openapi.json` by relative URLs, so it works
//! at `/docs` and behind the gateway at `/public/docs` alike. Built without the `docs`
//! feature, the table is empty and every docs path is `404`.

use http::header::{
    HeaderValue, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, ETAG, REFERRER_POLICY, VARY,
};

use crate::problem::{Problem, Unavailable};
use crate::response::{
    etag_matches, not_modified, Body, Response, ResponseExt, DOCS_CACHE_CONTROL,
};

pub use crate::embedded::{Asset, ASSETS};

/// The page served at `/docs` itself.
pub const INDEX: &str = "index.html";

/// Swagger UI runs from our own origin only: no inline script or style element, no eval,
/// no third-party hosts. It needs `data:` images (the CSS's SVG icons); React's style
/// attributes go through the DOM API, which `style-src 'self'` allows. The browser test
/// fails on any CSP violation.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The embedded file called `name`, if there is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|asset| asset.name.cmp(name))
        .ok()
        .map(|i| &ASSETS[i])
}

/// `200` with the asset, or `304` when the client's `If-None-Match` already has it.
///
/// Gzipped assets go out as gzip to clients that accept it and inflated to the others; each
/// representation has its own `ETag`, and `Vary: Accept-Encoding` tells caches so.
pub fn serve(
    asset: &'static Asset,
    request_headers: &http::HeaderMap,
) -> Result<Response, Problem> {
    let send_gzip = asset.gzipped && accepts_gzip(request_headers);
    let etag = if send_gzip {
        asset.gzip_etag
    } else {
        asset.etag
    };
    let mut response = if etag_matches(request_headers, etag) {
        not_modified()
    } else {
        let body: Body = if asset.gzipped && !send_gzip {
            gunzip(asset.body, asset.identity_len)
                .ok_or(Problem::Unavailable(Unavailable::BrokenAsset(asset.name)))?
                .into()
        } else {
            asset.body.into()
        };
        Response::with_body(http::StatusCode::OK, asset.content_type, body)
    }
    .cache_control(DOCS_CACHE_CONTROL);
    let full_body = response.status() == http::StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(ETAG, HeaderValue::from_static(etag));
    if asset.gzipped {
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        if send_gzip && full_body {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    if asset.content_type.starts_with("text/html") {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    Ok(response)
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 12.5.3: `gzip` or `*` with q > 0).
pub fn accepts_gzip(request_headers: &http::HeaderMap) -> bool {
    let mut gzip = None;
    let mut star = None;
    for value in request_headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q > 0.0),
                "*" => star = Some(q > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(star).unwrap_or(false)
}

/// The file inside a gzip member written by `build.rs` (10-byte header, deflate, 8-byte
/// trailer); `None` if it does not inflate to the expected length.
fn gunzip(gz: &[u8], expected_len: usize) -> Option<Vec<u8>> {
    let deflate = gz.get(10..gz.len().checked_sub(8)?)?;
    let data = miniz_oxide::inflate::decompress_to_vec_with_limit(deflate, expected_len).ok()?;
    (data.len() == expected_len).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "docs")]
    #[test]
    fn the_table_holds_the_page_and_its_assets_with_types() {
        let names: Vec<_> = ASSETS.iter().map(|a| a.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "binary search needs a sorted table");
        for (name, kind) in [
            (INDEX, "text/html"),
            ("swagger-ui.css", "text/css"),
            ("swagger-ui-bundle.js", "text/javascript"),
            ("swagger-initializer.js", "text/javascript"),
            ("pattern-summary-plugin.js", "text/javascript"),
        ] {
            let asset = asset(name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(asset.content_type.starts_with(kind), "{name}");
            assert!(asset.etag.starts_with('"') && asset.etag.ends_with('"'));
        }
        for escape in [
            "../Cargo.toml",
            "..",
            ".",
            "",
            "/etc/passwd",
            "%2e%2e",
            "index.html/",
        ] {
            assert!(asset(escape).is_none(), "{escape}");
        }
    }

    #[test]
    fn gzip_negotiation_follows_rfc_9110() {
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::ACCEPT_ENCODING, value.parse().unwrap());
            accepts_gzip(&headers)
        };
        assert!(with("gzip"));
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!with("*, gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&http::HeaderMap::new()));
    }

    #[cfg(feature = "docs")]
    #[test]
    fn every_asset_inflates_to_the_file_on_disk() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static-docs");
        for asset in ASSETS {
            let on_disk = std::fs::read(dir.join(asset.name)).unwrap();
            let identity = if asset.gzipped {
                gunzip(asset.body, asset.identity_len).unwrap()
            } else {
                asset.body.to_vec()
            };
            assert_eq!(identity, on_disk, "{}", asset.name);
        }
        let bundle = asset("swagger-ui-bundle.js").unwrap();
        assert!(bundle.gzipped && bundle.body.len() < bundle.identity_len / 2);
    }

    #[cfg(feature = "docs")]
    #[test]
    fn the_page_uses_only_relative_urls() {
        let page = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("static-docs")
                .join(INDEX),
        )
        .unwrap();
        // The stylesheet, two icons and the link to the document; the two scripts.
        for (attr, at_least) in [("href=\"", 4), ("src=\"", 2)] {
            let urls: Vec<&str> = page
                .match_indices(attr)
                .map(|(i, _)| {
                    let url = &page[i + attr.len()..];
                    &url[..url.find('"').unwrap()]
                })
                .collect();
            assert!(urls.len() >= at_least, "{attr} found {urls:?}");
            for url in urls {
                assert!(
                    !url.is_empty() && !url.starts_with('/') && !url.contains(':'),
                    "not a relative URL in index.html: {url:?}"
                );
            }
        }
        // Every script, whatever its attributes, is loaded from a file.
        let scripts: Vec<&str> = page
            .match_indices("<script")
            .map(|(i, _)| &page[i..i + page[i..].find('>').unwrap()])
            .collect();
        assert!(scripts.len() >= 2, "{scripts:?}");
        assert!(
            scripts.iter().all(|tag| tag.contains(" src=\"")),
            "no inline script (CSP forbids it): {scripts:?}"
        );
    }
}
