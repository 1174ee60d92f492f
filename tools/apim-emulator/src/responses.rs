//! The gateway's own answers, with APIM's status codes and `{statusCode, message}` bodies.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};

/// Body type of every response the emulator sends (streamed or buffered).
pub type Body = BoxBody<Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

/// An APIM-style JSON error, byte for byte as APIM writes it:
/// `{ "statusCode": 401, "message": "..." }` (spaces included).
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    error_with(status, message, None)
}

fn error_with(status: StatusCode, message: &str, activity_id: Option<&str>) -> Response<Body> {
    let message = serde_json::to_string(message).expect("strings serialise");
    let body = match activity_id {
        Some(id) => format!(
            "{{ \"statusCode\": {}, \"message\": {message}, \"activityId\": \"{id}\" }}",
            status.as_u16()
        ),
        None => format!(
            "{{ \"statusCode\": {}, \"message\": {message} }}",
            status.as_u16()
        ),
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// APIM's challenge on a 401: which key, where. `realm` is the API's URL.
pub fn challenge(mut response: Response<Body>, realm: &str, header_name: &str) -> Response<Body> {
    let value =
        format!("AzureApiManagementKey realm=\"{realm}\",name=\"{header_name}\",type=\"header\"");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(http::header::WWW_AUTHENTICATE, value);
    }
    response
}

pub fn missing_key() -> Response<Body> {
    error(
        StatusCode::UNAUTHORIZED,
        "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
    )
}

pub fn invalid_key() -> Response<Body> {
    error(
        StatusCode::UNAUTHORIZED,
        "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
    )
}

/// A request the gateway refuses before routing (see `gateway::path_refusal`).
pub fn bad_request(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, message)
}

pub fn not_found() -> Response<Body> {
    error(StatusCode::NOT_FOUND, "Resource not found")
}

pub fn rate_limited(retry_after_secs: u64) -> Response<Body> {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Rate limit is exceeded. Try again in {retry_after_secs} seconds."),
    );
    response.headers_mut().insert(
        http::header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs),
    );
    response
}

/// The backend could not be reached, broke the connection, or did not answer within the
/// `forward-request` timeout: APIM answers all of these with a 500 and an activity id.
pub fn backend_error() -> Response<Body> {
    error_with(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal server error",
        Some(&activity_id()),
    )
}

/// A random GUID-shaped id (it only correlates a response with the emulator's log line).
pub fn activity_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let (a, b) = (half(), half());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}
