//! The gateway's own answers, with APIM's status codes and `{statusCode, message}` bodies.
//!
//! The message texts live here, once: the emulator answers with them, and xtask's OpenAPI
//! generator (`cargo xtask openapi`) and gateway checks (`cargo xtask verify`) read the same
//! constants through this library. The integration tests under `tests/` spell the bodies
//! out on purpose, as an oracle independent of these constants.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};

/// API Management's texts, byte for byte: the two `401`s as Microsoft Learn documents them
/// ("Azure API Management Troubleshooting Scenario 3 - Receiving unauthorized errors (401)
/// while invoking APIs", KB 4464930; the missing-key body is 152 bytes), the `404` and
/// `429` as the contract (SPEC section 5, `docs/gateway.md`) states them; `cargo xtask
/// verify` compares all four with a deployed gateway's answers.
pub mod messages {
    /// `401`: no subscription key in the header or the query.
    pub const MISSING_KEY: &str = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.";
    /// `401`: a key that is not valid for the API.
    pub const INVALID_KEY: &str = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.";
    /// `404`: no API or operation matches.
    pub const NOT_FOUND: &str = "Resource not found";
    /// `500`: the backend failed or did not answer.
    pub const INTERNAL_ERROR: &str = "Internal server error";
    /// Not APIM's (its answer is not documented): the emulator's and the ingress's refusal
    /// of dot segments; `cargo xtask verify` records what APIM does.
    pub const DOT_SEGMENTS: &str = "Invalid request path: dot segments are not accepted";
    pub const ENCODED_SEPARATORS: &str =
        "Invalid request path: encoded dots and separators are not accepted";

    /// `429`: `Rate limit is exceeded. Try again in N seconds.`
    pub fn rate_limited(retry_after_secs: u64) -> String {
        format!("Rate limit is exceeded. Try again in {retry_after_secs} seconds.")
    }
}

/// Why the gateway answers a request itself instead of the backend.
#[derive(Debug)]
pub enum Refusal {
    /// A dot segment or an encoded separator in the path (the message says which).
    BadPath(&'static str),
    /// No API or operation matches.
    NotFound,
    /// No subscription key where one is required.
    MissingKey(Challenge),
    /// A key that is not valid for this API (including any key sent to an API that
    /// requires none: see `gateway::subscription_of`).
    InvalidKey(Challenge),
    /// Over the rate limit: seconds until a call leaves the window, and the header that
    /// carries them.
    RateLimited {
        retry_after_secs: u64,
        header: http::HeaderName,
    },
    /// The backend could not be reached, failed, or did not answer in time.
    BackendError,
}

/// What `WWW-Authenticate` names on a 401: the API's URL and the key header.
#[derive(Debug)]
pub struct Challenge {
    pub realm: String,
    pub header_name: String,
}

impl Refusal {
    pub fn into_response(self) -> Response<Body> {
        match self {
            Refusal::BadPath(message) => error(StatusCode::BAD_REQUEST, message),
            Refusal::NotFound => error(StatusCode::NOT_FOUND, messages::NOT_FOUND),
            Refusal::MissingKey(challenge) => {
                challenge.apply(error(StatusCode::UNAUTHORIZED, messages::MISSING_KEY))
            }
            Refusal::InvalidKey(challenge) => {
                challenge.apply(error(StatusCode::UNAUTHORIZED, messages::INVALID_KEY))
            }
            Refusal::RateLimited {
                retry_after_secs,
                header,
            } => {
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &messages::rate_limited(retry_after_secs),
                );
                response
                    .headers_mut()
                    .insert(header, HeaderValue::from(retry_after_secs));
                response
            }
            Refusal::BackendError => backend_error(),
        }
    }
}

impl Challenge {
    /// APIM's challenge on a 401: which key, where. The realm comes from the client's
    /// `Host`, so it is quoted safely: anything outside a host name's characters makes
    /// it `localhost` rather than being written into the header.
    fn apply(self, mut response: Response<Body>) -> Response<Body> {
        let value = format!(
            "AzureApiManagementKey realm=\"{}\",name=\"{}\",type=\"header\"",
            self.realm, self.header_name
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

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

/// An empty `200 OK`: the `cors` policy's answer to an unmatched request it terminates.
pub fn empty_ok() -> Response<Body> {
    Response::new(empty())
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

/// The backend could not be reached, broke the connection, or did not answer within the
/// `forward-request` timeout: APIM answers all of these with a 500 and an activity id.
pub fn backend_error() -> Response<Body> {
    error_with(
        StatusCode::INTERNAL_SERVER_ERROR,
        messages::INTERNAL_ERROR,
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
