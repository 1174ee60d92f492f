//! Routing: from method, path and query to a response, for every route of the contract.
//!
//! Order of checks: backend key (every path, before anything else; which credential a
//! path accepts is [`auth`]'s table), then path (`404`), then method (`405` with `Allow`),
//! then the route's own input rules. `HEAD` is answered
//! as `GET` with the body dropped. Paths are matched exactly as sent, never decoded, so
//! `/generate%5Fname` or `/docs/%2e%2e/x` are simply unknown.

use http::{Method, StatusCode};
use serde::Serialize;

use crate::auth::Refusal;
use crate::config::{self, Variables};
use crate::contract::{DOCS_PATH, GENERATE_NAME_PATH, JSON_CONTENT_TYPE, OPENAPI_PATH};
use crate::docs::{self, Asset};
use crate::problem::Problem;
use crate::response::{relative_redirect, Body, Response, ResponseExt};
use crate::{auth, names, openapi, query};

/// The `200` body of `GET /generate_name`.
#[derive(Debug, Serialize)]
pub struct NameBody<'a> {
    pub name: &'a str,
}

/// What a path refers to.
enum Route {
    GenerateName,
    OpenApi,
    Docs(&'static Asset),
    /// `/docs/`: back to `/docs`, where the page's relative URLs resolve.
    DocsSlash,
    /// `/`: to the docs.
    Root,
}

fn route(path: &str) -> Option<Route> {
    match path {
        GENERATE_NAME_PATH => Some(Route::GenerateName),
        OPENAPI_PATH => Some(Route::OpenApi),
        DOCS_PATH => docs::asset(docs::INDEX).map(Route::Docs),
        "/" => Some(Route::Root),
        _ => {
            let file = path.strip_prefix(DOCS_PATH)?.strip_prefix('/')?;
            if file.is_empty() {
                return docs::asset(docs::INDEX).map(|_| Route::DocsSlash);
            }
            // The page itself lives at `/docs` only: at `/docs/index.html` its relative
            // URLs would resolve one level too deep.
            docs::asset(file)
                .filter(|asset| asset.name != docs::INDEX)
                .map(Route::Docs)
        }
    }
}

/// Answer one request. Never panics on any input; every error is a [`Problem`].
pub fn handle<R: rand::Rng + ?Sized>(
    request: &http::request::Parts,
    vars: &dyn Variables,
    rng: &mut R,
) -> Response {
    let mut response = auth::authorize(request.uri.path(), &request.headers, vars)
        .map_err(|refusal| match refusal {
            Refusal::Unauthorized => Problem::Unauthorized,
            Refusal::Misconfigured(reason) => reason.into(),
        })
        .and_then(|()| dispatch(request, vars, rng))
        .unwrap_or_else(|problem| {
            log(&problem);
            problem.into_response()
        });
    // An explicit length instead of chunked encoding; on HEAD it is the GET body's
    // length (RFC 9110 9.3.2), so HEAD and GET headers are the same.
    if response.status() != StatusCode::NOT_MODIFIED {
        let length = http::HeaderValue::from(response.body().len());
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, length);
    }
    if request.method == Method::HEAD {
        *response.body_mut() = Body::Borrowed(&[]);
    }
    response
}

fn dispatch<R: rand::Rng + ?Sized>(
    request: &http::request::Parts,
    vars: &dyn Variables,
    rng: &mut R,
) -> Result<Response, Problem> {
    let route = route(request.uri.path()).ok_or(Problem::NotFound)?;
    if request.method != Method::GET && request.method != Method::HEAD {
        return Err(Problem::MethodNotAllowed);
    }
    match route {
        Route::GenerateName => generate_name(request.uri.query(), rng),
        Route::OpenApi => {
            let base = config::api_base(vars)?;
            Ok(openapi::serve(&base, &request.headers))
        }
        Route::Docs(asset) => docs::serve(asset, &request.headers),
        Route::DocsSlash => Ok(relative_redirect("../docs")),
        Route::Root => Ok(relative_redirect("docs")),
    }
}

/// The one place errors are logged: every 5xx, with its cause (which names variables or
/// files, never values). Client errors are not logged: they are the client's to read.
fn log(problem: &Problem) {
    if let Problem::Unavailable(cause) = problem {
        eprintln!("name-api: refusing the request (503): {cause}");
    }
}

fn generate_name<R: rand::Rng + ?Sized>(
    query: Option<&str>,
    rng: &mut R,
) -> Result<Response, Problem> {
    let filter = query::starts_with(query).map_err(Problem::InvalidParameter)?;
    let name = names::pick(filter.as_ref(), rng).ok_or_else(|| Problem::NoMatch {
        starts_with: filter.map(|f| f.as_str().to_owned()).unwrap_or_default(),
    })?;
    let body = crate::response::json(&NameBody { name });
    Ok(Response::with_body(StatusCode::OK, JSON_CONTENT_TYPE, body).no_store())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::vars;
    use crate::config::{API_BASE, BACKEND_KEY, DOCS_BACKEND_KEY, REQUIRE_BACKEND_KEY};
    use rand::{rngs::StdRng, SeedableRng};

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn call(method: &str, uri: &str) -> Response {
        call_with(method, uri, &[], &[])
    }

    fn call_with(
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        config: &[(&'static str, &'static str)],
    ) -> Response {
        let mut rng = StdRng::seed_from_u64(9);
        handle(&request(method, uri, headers), &vars(config), &mut rng)
    }

    fn json(response: &Response) -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[test]
    fn generate_name_returns_a_listed_name_as_json() {
        let response = call("GET", "/generate_name");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let name = json(&response)["name"].as_str().unwrap().to_owned();
        assert!(names::NAMES.contains(&name.as_str()));
    }

    #[test]
    fn starts_with_filters_case_insensitively() {
        for (query, expect) in [
            ("N", "n"),
            ("n", "n"),
            ("%C3%91", "ñ"),
            ("mary+j", "mary j"),
        ] {
            let response = call("GET", &format!("/generate_name?starts_with={query}"));
            assert_eq!(response.status(), 200, "{query}");
            let name = json(&response)["name"].as_str().unwrap().to_lowercase();
            assert!(name.starts_with(expect), "{query} gave {name}");
        }
    }

    #[test]
    fn no_match_is_a_404_problem() {
        let response = call("GET", "/generate_name?starts_with=Xyzzy");
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert!(json(&response)["detail"]
            .as_str()
            .unwrap()
            .contains("Xyzzy"));
    }

    /// The 422 rules, all of them, through routing and rendering (the one table of them;
    /// `tests/http_contract.rs` checks over a real host only what the host could change).
    #[test]
    fn bad_starts_with_is_a_422_naming_parameter_and_rule() {
        let long = "a".repeat(65);
        let long_multibyte = "%C3%A9".repeat(65);
        for (query, rule) in [
            ("starts_with=", "min_length"),
            ("starts_with", "min_length"),
            (&format!("starts_with={long}")[..], "max_length"),
            (&format!("starts_with={long_multibyte}")[..], "max_length"),
            ("starts_with=a1", "pattern"),
            ("starts_with=a%00", "pattern"),
            ("starts_with=%01", "pattern"),
            ("starts_with=%0A", "pattern"),
            ("starts_with=%E2%82%AC", "pattern"),
            ("starts_with=%F0%9F%98%80", "pattern"),
            ("starts_with=a%3Cscript%3E", "pattern"),
            ("starts_with=%zz", "encoding"),
            ("starts_with=%C3", "encoding"),
            ("starts_with=%FF%FE", "encoding"),
            ("starts_with=a&starts_with=a", "repeated"),
            ("starts_with=a&starts_with=b", "repeated"),
        ] {
            let response = call("GET", &format!("/generate_name?{query}"));
            assert_eq!(response.status(), 422, "{query}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let body = json(&response);
            assert_eq!(body["invalid_params"][0]["name"], "starts_with", "{query}");
            assert_eq!(body["invalid_params"][0]["rule"], rule, "{query}");
            assert!(body["detail"].as_str().unwrap().contains("starts_with"));
        }
        // 64 two-byte letters is the longest valid value.
        let max = "%C3%A9".repeat(64);
        let response = call("GET", &format!("/generate_name?starts_with={max}"));
        assert_eq!(response.status(), 404);
    }

    #[test]
    fn unknown_query_parameters_are_ignored() {
        assert_eq!(call("GET", "/generate_name?foo=bar&x").status(), 200);
    }

    #[test]
    fn openapi_is_served_with_etag_and_configured_server() {
        let response = call("GET", "/openapi.json");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age"));
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(json(&response)["openapi"], "3.0.3");
        assert_eq!(json(&response)["servers"][0]["url"], "/");

        let cached = call_with("GET", "/openapi.json", &[("if-none-match", &etag)], &[]);
        assert_eq!(cached.status(), 304);
        assert!(cached.body().is_empty());

        let gateway = call_with(
            "GET",
            "/openapi.json",
            &[("if-none-match", &etag)],
            &[(API_BASE, "/api")],
        );
        assert_eq!(
            gateway.status(),
            200,
            "another base is another representation"
        );
        assert_eq!(json(&gateway)["servers"][0]["url"], "/api");

        let broken = call_with("GET", "/openapi.json", &[], &[(API_BASE, "not a url")]);
        assert_eq!(broken.status(), 503);
    }

    #[test]
    fn root_and_docs_slash_redirect_relatively() {
        let root = call("GET", "/");
        assert_eq!(root.status(), 307);
        assert_eq!(root.headers()["location"], "docs");
        let slash = call("GET", "/docs/");
        assert_eq!(slash.status(), 307);
        assert_eq!(slash.headers()["location"], "../docs");
    }

    #[test]
    fn head_has_get_headers_and_no_body() {
        for uri in ["/generate_name", "/openapi.json", "/", "/nope"] {
            let get = call("GET", uri);
            let head = call("HEAD", uri);
            assert_eq!(head.status(), get.status(), "{uri}");
            assert!(head.body().is_empty(), "{uri}");
            // RFC 9110 9.3.2: HEAD's Content-Length is the length GET's body has.
            assert_eq!(
                head.headers().get("content-length"),
                Some(&http::HeaderValue::from(get.body().len())),
                "{uri}"
            );
            for name in [
                "content-type",
                "content-length",
                "cache-control",
                "etag",
                "location",
            ] {
                assert_eq!(
                    head.headers().get(name),
                    get.headers().get(name),
                    "{uri} {name}"
                );
            }
        }
    }

    #[test]
    fn other_methods_on_known_paths_are_405_with_allow() {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"] {
            for uri in ["/generate_name", "/openapi.json", "/", "/docs/"] {
                let response = call(method, uri);
                assert_eq!(response.status(), 405, "{method} {uri}");
                assert_eq!(response.headers()["allow"], "GET, HEAD");
                assert_eq!(json(&response)["status"], 405);
            }
        }
    }

    #[test]
    fn unknown_paths_and_traversal_attempts_are_404() {
        for uri in [
            "/nope",
            "/generate_name/",
            "/generate%5Fname",
            "/GENERATE_NAME",
            "//generate_name",
            "/docs/../openapi.json",
            "/docs/%2e%2e/Cargo.toml",
            "/docs/..%2fCargo.toml",
            "/docs/nope.js",
            "/docs//swagger-ui.css",
            "/docs/./index.html/",
            "/openapi.json/",
            "/docs/index.html",
        ] {
            let response = call("GET", uri);
            assert_eq!(response.status(), 404, "{uri}");
            assert_eq!(json(&response)["status"], 404, "{uri}");
        }
    }

    #[test]
    fn backend_key_guards_every_path() {
        let config = [(BACKEND_KEY, "k3y-k3y-k3y")];
        for (uri, status) in [
            ("/generate_name", 200),
            ("/openapi.json", 200),
            ("/docs", 200),
            ("/", 307),
            ("/nope", 404),
        ] {
            let denied = call_with("GET", uri, &[], &config);
            assert_eq!(denied.status(), 401, "{uri}");
            let wrong = call_with("GET", uri, &[("x-backend-key", "k3y")], &config);
            assert_eq!(wrong.status(), 401, "{uri}");
            let allowed = call_with("GET", uri, &[("x-backend-key", "k3y-k3y-k3y")], &config);
            assert_eq!(allowed.status(), status, "{uri}");
            let body = String::from_utf8(denied.body().to_vec()).unwrap();
            assert!(!body.contains("k3y"), "the key is never echoed");
        }
    }

    /// The docs credential reaches the docs and the document, and nothing else, whatever
    /// the path spells; the api credential reaches everything.
    #[test]
    fn each_credential_gets_exactly_its_routes() {
        let config = [
            (BACKEND_KEY, "api-key"),
            (DOCS_BACKEND_KEY, "docs-key"),
            (REQUIRE_BACKEND_KEY, "true"),
        ];
        for (uri, with_api, with_docs) in [
            ("/generate_name", 200, 401),
            ("/generate_name?starts_with=a", 200, 401),
            ("/openapi.json", 200, 200),
            ("/docs", 200, 200),
            ("/docs/swagger-ui.css", 200, 200),
            ("/docs/", 307, 307),
            ("/", 307, 307),
            ("/nope", 404, 401),
            ("/docs/%2e%2e/generate_name", 404, 404),
            ("/docs/../generate_name", 404, 404),
            ("/docs/..%2fgenerate_name", 404, 404),
            ("/docs%2f..%2fgenerate_name", 404, 401),
            ("/openapi.json/../generate_name", 404, 401),
        ] {
            for (key, expected) in [("api-key", with_api), ("docs-key", with_docs)] {
                let response = call_with("GET", uri, &[("x-backend-key", key)], &config);
                assert_eq!(response.status(), expected, "{key} on {uri}");
                if response.status() != 200 && response.status() != 307 {
                    assert_eq!(json(&response)["status"], expected, "{key} on {uri}");
                }
            }
        }
    }

    #[test]
    fn production_mode_without_a_key_fails_closed() {
        let config = [(REQUIRE_BACKEND_KEY, "true")];
        for uri in ["/generate_name", "/docs", "/nope"] {
            let response = call_with("GET", uri, &[("x-backend-key", "")], &config);
            assert_eq!(response.status(), 503, "{uri}");
        }
        // The docs credential alone: the docs work, the API fails closed.
        let config = [
            (DOCS_BACKEND_KEY, "docs-key"),
            (REQUIRE_BACKEND_KEY, "true"),
        ];
        let docs = call_with("GET", "/docs", &[("x-backend-key", "docs-key")], &config);
        assert_eq!(docs.status(), 200);
        let api = call_with(
            "GET",
            "/generate_name",
            &[("x-backend-key", "docs-key")],
            &config,
        );
        assert_eq!(api.status(), 503);
    }
}
