//! Every error the component returns, and the one place that renders them.
//!
//! Errors are values of [`Problem`]; [`Problem::into_response`] turns any of them into an
//! RFC 9457 `application/problem+json` response. Handlers never build error responses by
//! hand, so every error has the same documented shape. Bodies never carry secrets,
//! request headers or panic text; the only user input echoed is an already validated
//! `starts_with` value.

use std::fmt;

use serde::Serialize;

use crate::config::Misconfiguration;
use crate::contract::{ALLOWED_METHODS, PROBLEM_CONTENT_TYPE, STARTS_WITH, STARTS_WITH_RULE};
use crate::query::Rule;
use crate::response::{Response, ResponseExt};

/// An error answer of the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No route has this path.
    NotFound,
    /// `starts_with` was valid but no name matches it.
    NoMatch { starts_with: String },
    /// Known path, method other than GET or HEAD.
    MethodNotAllowed,
    /// `starts_with` broke a rule.
    InvalidParameter(Rule),
    /// The backend key is configured and the request did not carry it.
    Unauthorized,
    /// The component cannot serve this request (fail closed); the cause is logged by
    /// `router::handle`, never sent.
    Unavailable(Unavailable),
}

/// Why a request gets a `503`. Its text names variables or files, never values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The configuration says no (production without a credential, an unreadable or
    /// malformed variable).
    Config(Misconfiguration),
    /// An embedded docs asset does not inflate: a defect of the build, not of the request.
    BrokenAsset(&'static str),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(reason) => reason.fmt(f),
            Self::BrokenAsset(name) => write!(f, "embedded docs asset {name} does not inflate"),
        }
    }
}

impl From<Misconfiguration> for Problem {
    fn from(reason: Misconfiguration) -> Problem {
        Problem::Unavailable(Unavailable::Config(reason))
    }
}

/// The JSON body: RFC 9457 members plus `invalid_params` for `422`.
#[derive(Debug, Serialize)]
pub struct ProblemBody {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_params: Option<[InvalidParam; 1]>,
}

/// One entry of `invalid_params`: which parameter, where, which rule, in words.
#[derive(Debug, Serialize)]
pub struct InvalidParam {
    pub name: &'static str,
    #[serde(rename = "in")]
    pub in_: &'static str,
    pub rule: &'static str,
    pub reason: &'static str,
}

impl Problem {
    /// HTTP status of this problem.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Problem::NotFound | Problem::NoMatch { .. } => S::NOT_FOUND,
            Problem::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            Problem::InvalidParameter(_) => S::UNPROCESSABLE_ENTITY,
            Problem::Unauthorized => S::UNAUTHORIZED,
            Problem::Unavailable(_) => S::SERVICE_UNAVAILABLE,
        }
    }

    /// The reason phrase of the status, as RFC 9110 names it (422 is "Unprocessable
    /// Content" there, no longer "Unprocessable Entity").
    pub fn title(&self) -> &'static str {
        match self {
            Problem::NotFound | Problem::NoMatch { .. } => "Not Found",
            Problem::MethodNotAllowed => "Method Not Allowed",
            Problem::InvalidParameter(_) => "Unprocessable Content",
            Problem::Unauthorized => "Unauthorized",
            Problem::Unavailable(_) => "Service Unavailable",
        }
    }

    /// The body, as serialised into the response.
    pub fn body(&self) -> ProblemBody {
        let status = self.status();
        let detail = match self {
            Problem::NotFound => "No resource exists at this path.".to_owned(),
            Problem::NoMatch { starts_with } => {
                format!("No name starts with '{starts_with}' (compared in lowercase).")
            }
            Problem::MethodNotAllowed => {
                format!("This path supports only these methods: {ALLOWED_METHODS}.")
            }
            Problem::InvalidParameter(rule) => format!(
                "Query parameter '{STARTS_WITH}' {}; it must be {STARTS_WITH_RULE}.",
                rule.reason()
            ),
            Problem::Unauthorized => {
                "This service is reachable only through its API gateway.".to_owned()
            }
            Problem::Unavailable(_) => {
                "The service is not configured to accept requests; try again later.".to_owned()
            }
        };
        ProblemBody {
            type_: "about:blank",
            // RFC 9457: with type "about:blank" the title is the status's reason phrase.
            title: self.title(),
            status: status.as_u16(),
            detail,
            invalid_params: match self {
                Problem::InvalidParameter(rule) => Some([InvalidParam {
                    name: STARTS_WITH,
                    in_: "query",
                    rule: rule.code(),
                    reason: rule.reason(),
                }]),
                _ => None,
            },
        }
    }

    /// Render as a response: status, problem body, headers the status requires.
    pub fn into_response(self) -> Response {
        let body = crate::response::json(&self.body());
        let mut response =
            Response::with_body(self.status(), PROBLEM_CONTENT_TYPE, body).no_store();
        let headers = response.headers_mut();
        match self {
            Problem::MethodNotAllowed => {
                headers.insert(
                    http::header::ALLOW,
                    http::HeaderValue::from_static(ALLOWED_METHODS),
                );
            }
            Problem::Unauthorized => {
                // RFC 9110 requires a challenge on 401; name the scheme, not the secret.
                headers.insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Backend-Key realm=\"name-api\""),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(problem: Problem) -> serde_json::Value {
        let response = problem.into_response();
        assert_eq!(response.headers()["content-type"], PROBLEM_CONTENT_TYPE);
        serde_json::from_slice(response.body()).unwrap()
    }

    #[test]
    fn every_problem_has_the_rfc9457_members() {
        // Status and title as RFC 9110 (section 15) names them, written out here rather
        // than taken from the code under test.
        for (problem, status, title) in [
            (Problem::NotFound, 404, "Not Found"),
            (
                Problem::NoMatch {
                    starts_with: "Qx".into(),
                },
                404,
                "Not Found",
            ),
            (Problem::MethodNotAllowed, 405, "Method Not Allowed"),
            (
                Problem::InvalidParameter(Rule::Pattern),
                422,
                "Unprocessable Content",
            ),
            (Problem::Unauthorized, 401, "Unauthorized"),
            (
                Problem::Unavailable(Unavailable::BrokenAsset("x.js")),
                503,
                "Service Unavailable",
            ),
        ] {
            let response = problem.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()["content-type"], PROBLEM_CONTENT_TYPE);
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(body["type"], "about:blank");
            assert_eq!(body["status"], status);
            assert_eq!(body["title"], title);
            assert!(!body["detail"].as_str().unwrap().is_empty());
        }
    }

    #[test]
    fn invalid_parameter_names_the_parameter_and_the_rule() {
        for rule in Rule::ALL {
            let body = json(Problem::InvalidParameter(rule));
            assert_eq!(body["status"], 422);
            assert_eq!(body["title"], "Unprocessable Content");
            let param = &body["invalid_params"][0];
            assert_eq!(param["name"], "starts_with");
            assert_eq!(param["in"], "query");
            assert_eq!(param["rule"], rule.code());
            assert!(body["detail"].as_str().unwrap().contains("starts_with"));
        }
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let response = Problem::MethodNotAllowed.into_response();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "GET, HEAD");
    }

    #[test]
    fn unauthorized_carries_a_challenge_and_no_secret_material() {
        let response = Problem::Unauthorized.into_response();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(!text.contains("x-backend-key"));
    }
}
