//! The `cors` policy, as Microsoft's cors policy reference describes it: preflights are
//! answered by the gateway (only `cors` runs on them); a cross-origin request that does
//! not match the policy is ended with an empty `200 OK` when `terminate-unmatched-request`
//! is `true` (preflights and simple GET/HEAD requests alike), or proceeds without CORS
//! headers when it is `false`; matched responses get the CORS headers.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response};

use crate::policy::Cors;
use crate::responses::{self, Body};

/// What the `cors` policy decides before the other policies run.
pub enum Decision {
    /// The gateway answers now (a preflight, or an unmatched request it terminates).
    Answer(Response<Body>),
    /// Go on; add CORS headers to the response when `true`.
    Proceed { decorate: bool },
}

/// Whether `headers` (a request's) make it a CORS preflight.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Run the policy on a request. `route_exists`: some operation of the API matches the
/// path (a preflight for a path the API does not have is a 404, as before).
pub fn decide(cors: &Cors, method: &Method, headers: &HeaderMap, route_exists: bool) -> Decision {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Decision::Proceed { decorate: false };
    };
    if is_preflight(method, headers) {
        if !route_exists {
            return Decision::Answer(responses::Refusal::NotFound.into_response());
        }
        // Unmatched preflights end with an empty 200 whatever the attribute says: with
        // `false` APIM looks for another in-scope `cors` policy, and there is none.
        return Decision::Answer(
            preflight(cors, origin, headers).unwrap_or_else(responses::empty_ok),
        );
    }
    let simple = method == Method::GET || method == Method::HEAD;
    let matched = origin_allowed(cors, origin) && method_allowed(cors, method.as_str());
    match (matched, simple && cors.terminate_unmatched) {
        (true, _) => Decision::Proceed { decorate: true },
        (false, true) => Decision::Answer(responses::empty_ok()),
        (false, false) => Decision::Proceed { decorate: false },
    }
}

fn origin_allowed(cors: &Cors, origin: &HeaderValue) -> bool {
    cors.origins
        .iter()
        .any(|allowed| allowed == "*" || allowed.as_bytes() == origin.as_bytes())
}

fn method_allowed(cors: &Cors, method: &str) -> bool {
    cors.methods
        .iter()
        .any(|m| m == "*" || m.eq_ignore_ascii_case(method))
}

/// The preflight answer, or `None` when the preflight does not match the policy.
fn preflight(cors: &Cors, origin: &HeaderValue, headers: &HeaderMap) -> Option<Response<Body>> {
    let method = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or("");
    let requested: Vec<String> = headers
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let headers_ok = requested.iter().all(|name| {
        cors.allowed_headers
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(name))
    });
    if !(origin_allowed(cors, origin) && method_allowed(cors, method) && headers_ok) {
        return None;
    }
    let mut response = responses::empty_ok();
    let h = response.headers_mut();
    insert_allow_origin(h, cors, origin);
    if let Ok(value) = HeaderValue::from_str(method) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
    }
    if !requested.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&requested.join(",")) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
    }
    if let Some(age) = cors.preflight_max_age {
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    Some(response)
}

/// `Access-Control-Allow-Origin` (`*` only without credentials, else the caller's origin)
/// and, when the policy allows them, `Access-Control-Allow-Credentials`: the headers a
/// preflight answer and an actual response share.
fn insert_allow_origin(h: &mut HeaderMap, cors: &Cors, origin: &HeaderValue) {
    let value = if cors.origins.iter().any(|o| o == "*") && !cors.allow_credentials {
        HeaderValue::from_static("*")
    } else {
        origin.clone()
    };
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    if cors.allow_credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// Add the CORS headers of an actual (non-preflight) cross-origin response.
pub fn decorate(response: &mut Response<Body>, cors: &Cors, origin: &HeaderValue) {
    let h = response.headers_mut();
    insert_allow_origin(h, cors, origin);
    if !cors.expose_headers.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&cors.expose_headers.join(",")) {
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}
