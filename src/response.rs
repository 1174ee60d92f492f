//! The response type handlers return, the headers every response shares, and HTTP caching
//! of the embedded documents (`ETag` revalidation, `304`, the cache policy).
//!
//! Bodies are `Cow<'static, [u8]>` so embedded assets (the Swagger UI bundle, the OpenAPI
//! document) are served straight from the component's data section without a copy.

use std::borrow::Cow;

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::StatusCode;

/// JSON of a value made only of strings and numbers (a name, a problem body). That cannot
/// fail: serde_json fails only on maps with non-string keys or a failing `Serialize`
/// impl, so this is the one policy for it, not a path a request can reach.
pub fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("strings and numbers always serialise")
}

/// A response body: borrowed from the binary, or built for this request.
pub type Body = Cow<'static, [u8]>;
/// What every handler returns.
pub type Response = http::Response<Body>;

/// Constructors and header helpers shared by every route.
pub trait ResponseExt: Sized {
    /// A response with a body of the given media type and `nosniff`.
    fn with_body(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Self;
    /// Mark as never cacheable (random names, errors).
    fn no_store(self) -> Self;
    /// Set `Cache-Control` to a fixed policy.
    fn cache_control(self, policy: &'static str) -> Self;
}

impl ResponseExt for Response {
    fn with_body(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Self {
        let mut response = http::Response::new(body.into());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        response
    }

    fn no_store(self) -> Self {
        self.cache_control("no-store")
    }

    fn cache_control(mut self, policy: &'static str) -> Self {
        self.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
        self
    }
}

/// A body-less redirect to a *relative* location, so it works under any gateway prefix.
pub fn relative_redirect(location: &'static str) -> Response {
    let mut response = http::Response::new(Body::Borrowed(&[]));
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    response
        .headers_mut()
        .insert(http::header::LOCATION, HeaderValue::from_static(location));
    response.cache_control("no-store")
}

/// Caching for the embedded documents (docs page, assets, `openapi.json`): short enough that an upgrade shows within minutes, long
/// enough that APIM's `cache-store` and browsers absorb repeated loads; `ETag`
/// revalidation makes refreshes cheap.
pub const DOCS_CACHE_CONTROL: &str = "public, max-age=300";

/// A `304 Not Modified` (no body, no content type).
pub fn not_modified() -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = http::StatusCode::NOT_MODIFIED;
    response
}

/// RFC 9110 `If-None-Match`: weak comparison against a list of tags, or `*`.
pub fn etag_matches(request_headers: &http::HeaderMap, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    request_headers
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inm(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::IF_NONE_MATCH, value.parse().unwrap());
        headers
    }

    #[test]
    fn etag_comparison_is_weak_and_handles_lists() {
        assert!(etag_matches(&inm("\"abc\""), "\"abc\""));
        assert!(etag_matches(&inm("W/\"abc\""), "\"abc\""));
        assert!(etag_matches(&inm("\"x\", \"abc\""), "\"abc\""));
        assert!(etag_matches(&inm("*"), "\"abc\""));
        assert!(!etag_matches(&inm("\"abd\""), "\"abc\""));
        assert!(!etag_matches(&http::HeaderMap::new(), "\"abc\""));
    }
}
