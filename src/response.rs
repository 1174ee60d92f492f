//! The response type handlers return, and the headers every response shares.
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
