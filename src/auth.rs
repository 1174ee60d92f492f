//! Which gateway credential may reach which route.
//!
//! The gateway injects `x-backend-key`; each of its two APIs injects its own credential
//! (SPEC section 4, least privilege):
//!
//! | scope | paths | credentials accepted, in the order tried |
//! |---|---|---|
//! | [`Scope::Docs`] | `/`, `/docs`, `/docs/*`, `/openapi.json` | `docs_backend_key`, `docs_backend_key_next`, `backend_key`, `backend_key_next` |
//! | [`Scope::Api`] | everything else (`/generate_name`, unknown paths) | `backend_key`, `backend_key_next` |
//!
//! The check runs before routing, on the raw path (never decoded), so
//! `/docs/%2e%2e/generate_name` is in the docs scope and then simply not found: the docs
//! credential never reaches a name. A `*_next` key is accepted beside its current key
//! during a rotation; alone it counts for nothing. A scope whose current keys are all empty
//! is open (local use), unless `require_backend_key` is true: then an empty current key of
//! the scope fails closed (`503`).
//!
//! Variables are read lazily (each at most once, stopping at the first match), because
//! on Spin every read may be a host call; a production request presenting its scope's
//! current key costs one read. Comparison is constant-time in the key's content
//! (`subtle`); only the length can be learned from timing, so deployments use long random
//! keys.

use subtle::ConstantTimeEq;

use crate::config::{
    self, Misconfiguration, Variables, BACKEND_KEY, BACKEND_KEY_NEXT, DOCS_BACKEND_KEY,
    DOCS_BACKEND_KEY_NEXT,
};
use crate::contract::{BACKEND_KEY_HEADER, DOCS_PATH, OPENAPI_PATH};

/// The set of routes one credential reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The docs page, its assets, the root redirect and the OpenAPI document.
    Docs,
    /// `/generate_name` and every path that is not in [`Scope::Docs`].
    Api,
}

impl Scope {
    /// The scope of a raw request path (as sent, not decoded).
    pub fn of(path: &str) -> Scope {
        let under_docs = path
            .strip_prefix(DOCS_PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if path == "/" || path == OPENAPI_PATH || under_docs {
            Scope::Docs
        } else {
            Scope::Api
        }
    }

    /// (current, next) credential pairs in the order they are tried. The first pair is the
    /// scope's own: production requires its current key.
    fn credentials(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Scope::Docs => &[
                (DOCS_BACKEND_KEY, DOCS_BACKEND_KEY_NEXT),
                (BACKEND_KEY, BACKEND_KEY_NEXT),
            ],
            Scope::Api => &[(BACKEND_KEY, BACKEND_KEY_NEXT)],
        }
    }
}

/// Why a request is not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credential, a wrong one, one for another scope, or the header repeated (`401`).
    Unauthorized,
    /// The configuration cannot be trusted (`503`, fail closed).
    Misconfigured(Misconfiguration),
}

impl From<Misconfiguration> for Refusal {
    fn from(reason: Misconfiguration) -> Self {
        Refusal::Misconfigured(reason)
    }
}

/// `Ok(())` when a request to `path` with these headers may proceed.
pub fn authorize(
    path: &str,
    headers: &http::HeaderMap,
    vars: &dyn Variables,
) -> Result<(), Refusal> {
    let mut values = headers.get_all(BACKEND_KEY_HEADER).iter();
    // Exactly one header: a repeated header is refused rather than guessed at.
    let presented = match (values.next(), values.next()) {
        (None, _) => Presented::Nothing,
        (Some(value), None) => Presented::One(value.as_bytes()),
        (Some(_), Some(_)) => Presented::Repeated,
    };
    let mut guarded = false;
    for (index, &(current, next)) in Scope::of(path).credentials().iter().enumerate() {
        let current_key = config::read(vars, current)?;
        if current_key.is_empty() {
            if index == 0 && config::require_backend_key(vars)? {
                return Err(Misconfiguration::KeyMissing(current).into());
            }
            continue;
        }
        guarded = true;
        let given = match presented {
            Presented::One(given) => given,
            // Nothing can match: no need to read more.
            Presented::Nothing | Presented::Repeated => return Err(Refusal::Unauthorized),
        };
        if matches(given, &current_key) {
            return Ok(());
        }
        let next_key = config::read(vars, next)?;
        if !next_key.is_empty() && matches(given, &next_key) {
            return Ok(());
        }
    }
    if guarded {
        Err(Refusal::Unauthorized)
    } else {
        Ok(())
    }
}

/// What the request carries in `x-backend-key`.
#[derive(Clone, Copy)]
enum Presented<'a> {
    Nothing,
    One(&'a [u8]),
    Repeated,
}

fn matches(given: &[u8], key: &str) -> bool {
    bool::from(given.ct_eq(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{vars, Broken};
    use crate::config::REQUIRE_BACKEND_KEY;

    const API: &str = "api-key-0123456789";
    const API_NEXT: &str = "api-key-next-0123456789";
    const DOCS: &str = "docs-key-0123456789";
    const DOCS_NEXT: &str = "docs-key-next-0123456789";

    /// Production: every credential set, current and next.
    const PRODUCTION: [(&str, &str); 5] = [
        (BACKEND_KEY, API),
        (BACKEND_KEY_NEXT, API_NEXT),
        (DOCS_BACKEND_KEY, DOCS),
        (DOCS_BACKEND_KEY_NEXT, DOCS_NEXT),
        (REQUIRE_BACKEND_KEY, "true"),
    ];

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for v in values {
            map.append(BACKEND_KEY_HEADER, v.parse().unwrap());
        }
        map
    }

    const DOCS_PATHS: [&str; 8] = [
        "/",
        "/docs",
        "/docs/",
        "/docs/swagger-ui.css",
        "/docs/nope.js",
        "/docs/%2e%2e/generate_name",
        "/docs/../generate_name",
        "/openapi.json",
    ];
    const API_PATHS: [&str; 9] = [
        "/generate_name",
        "/generate_name?starts_with=a",
        "/nope",
        "/docsx",
        "/docs.json",
        "//docs",
        "/openapi.json/",
        "/DOCS",
        "/public/docs",
    ];

    #[test]
    fn scope_of_paths() {
        for path in DOCS_PATHS {
            assert_eq!(Scope::of(path), Scope::Docs, "{path}");
        }
        for path in API_PATHS {
            let path = path.split('?').next().unwrap();
            assert_eq!(Scope::of(path), Scope::Api, "{path}");
        }
    }

    /// The route x credential table of the module documentation.
    #[test]
    fn each_credential_reaches_exactly_its_scope() {
        let config = vars(&PRODUCTION);
        for (key, docs, api) in [
            (API, true, true),
            (API_NEXT, true, true),
            (DOCS, true, false),
            (DOCS_NEXT, true, false),
        ] {
            for path in DOCS_PATHS {
                let result = authorize(path, &headers(&[key]), &config);
                assert_eq!(result.is_ok(), docs, "{key} on {path}");
            }
            for path in API_PATHS {
                let path = path.split('?').next().unwrap();
                let result = authorize(path, &headers(&[key]), &config);
                let expected = if api {
                    Ok(())
                } else {
                    Err(Refusal::Unauthorized)
                };
                assert_eq!(result, expected, "{key} on {path}");
            }
        }
    }

    #[test]
    fn wrong_missing_or_repeated_credentials_are_refused_everywhere() {
        let config = vars(&PRODUCTION);
        let near_misses = [
            "",
            "x",
            &API[..API.len() - 1],
            &format!("{API} "),
            &API.to_uppercase(),
            &format!("{DOCS}x"),
        ];
        for path in DOCS_PATHS.iter().chain(&API_PATHS) {
            assert_eq!(
                authorize(path, &headers(&[]), &config),
                Err(Refusal::Unauthorized)
            );
            for wrong in &near_misses {
                assert_eq!(
                    authorize(path, &headers(&[wrong]), &config),
                    Err(Refusal::Unauthorized),
                    "{wrong:?} on {path}"
                );
            }
            assert_eq!(
                authorize(path, &headers(&[API, API]), &config),
                Err(Refusal::Unauthorized),
                "a repeated header on {path}"
            );
        }
    }

    #[test]
    fn reads_are_lazy_and_only_what_the_route_needs() {
        let cases: [(&str, &str, &[&str]); 8] = [
            // Production, each API's own current key: one read.
            ("/generate_name", API, &[BACKEND_KEY]),
            ("/docs", DOCS, &[DOCS_BACKEND_KEY]),
            ("/openapi.json", DOCS, &[DOCS_BACKEND_KEY]),
            // During a rotation the next key costs one more read.
            ("/generate_name", API_NEXT, &[BACKEND_KEY, BACKEND_KEY_NEXT]),
            (
                "/docs",
                DOCS_NEXT,
                &[DOCS_BACKEND_KEY, DOCS_BACKEND_KEY_NEXT],
            ),
            // The api credential on a docs route is tried after the docs pair.
            (
                "/docs",
                API,
                &[DOCS_BACKEND_KEY, DOCS_BACKEND_KEY_NEXT, BACKEND_KEY],
            ),
            // The api scope never reads the docs credentials.
            ("/generate_name", DOCS, &[BACKEND_KEY, BACKEND_KEY_NEXT]),
            // No header: the first non-empty key decides.
            ("/generate_name", "", &[BACKEND_KEY, BACKEND_KEY_NEXT]),
        ];
        for (path, key, expected) in cases {
            let config = vars(&PRODUCTION);
            let _ = authorize(path, &headers(&[key]), &config);
            assert_eq!(config.reads(), expected, "{key:?} on {path}");
        }
        let config = vars(&PRODUCTION);
        let _ = authorize("/docs", &headers(&[]), &config);
        assert_eq!(config.reads(), [DOCS_BACKEND_KEY]);
        // Local use, nothing set: the scope's current keys and the flag, once each.
        let config = vars(&[]);
        assert_eq!(authorize("/generate_name", &headers(&[]), &config), Ok(()));
        assert_eq!(config.reads(), [BACKEND_KEY, REQUIRE_BACKEND_KEY]);
        let config = vars(&[]);
        assert_eq!(authorize("/docs", &headers(&[]), &config), Ok(()));
        assert_eq!(
            config.reads(),
            [DOCS_BACKEND_KEY, REQUIRE_BACKEND_KEY, BACKEND_KEY]
        );
    }

    #[test]
    fn local_use_is_open_until_a_key_is_set() {
        for path in ["/generate_name", "/docs", "/nope"] {
            assert_eq!(authorize(path, &headers(&[]), &vars(&[])), Ok(()));
            assert_eq!(
                authorize(path, &headers(&["anything", "twice"]), &vars(&[])),
                Ok(())
            );
        }
        // Only the api credential set (as before the split): it guards every route.
        let only_api = vars(&[(BACKEND_KEY, API)]);
        for path in ["/generate_name", "/docs", "/openapi.json", "/nope"] {
            assert_eq!(
                authorize(path, &headers(&[]), &only_api),
                Err(Refusal::Unauthorized)
            );
            assert_eq!(authorize(path, &headers(&[API]), &only_api), Ok(()));
        }
        // Only the docs credential set: docs guarded, the api scope open (local use).
        let only_docs = vars(&[(DOCS_BACKEND_KEY, DOCS)]);
        assert_eq!(
            authorize("/docs", &headers(&[]), &only_docs),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(
            authorize("/generate_name", &headers(&[]), &only_docs),
            Ok(())
        );
        // A next key without a current one counts for nothing.
        let only_next = vars(&[(BACKEND_KEY_NEXT, API_NEXT)]);
        assert_eq!(
            authorize("/generate_name", &headers(&[]), &only_next),
            Ok(())
        );
    }

    #[test]
    fn production_fails_closed_where_a_needed_key_is_empty() {
        let no_docs_key = vars(&[(BACKEND_KEY, API), (REQUIRE_BACKEND_KEY, "true")]);
        for path in DOCS_PATHS {
            for given in [&[][..], &[API], &[DOCS]] {
                assert_eq!(
                    authorize(path, &headers(given), &no_docs_key),
                    Err(Refusal::Misconfigured(Misconfiguration::KeyMissing(
                        DOCS_BACKEND_KEY
                    ))),
                    "{path}"
                );
            }
        }
        assert_eq!(
            authorize("/generate_name", &headers(&[API]), &no_docs_key),
            Ok(())
        );

        let no_api_key = vars(&[(DOCS_BACKEND_KEY, DOCS), (REQUIRE_BACKEND_KEY, "TRUE")]);
        assert_eq!(
            authorize("/generate_name", &headers(&[DOCS]), &no_api_key),
            Err(Refusal::Misconfigured(Misconfiguration::KeyMissing(
                BACKEND_KEY
            )))
        );
        assert_eq!(authorize("/docs", &headers(&[DOCS]), &no_api_key), Ok(()));

        let typo = vars(&[(REQUIRE_BACKEND_KEY, "yes")]);
        assert_eq!(
            authorize("/generate_name", &headers(&[]), &typo),
            Err(Refusal::Misconfigured(Misconfiguration::BadRequireFlag))
        );
        assert_eq!(
            authorize("/docs", &headers(&[DOCS]), &Broken),
            Err(Refusal::Misconfigured(Misconfiguration::Unreadable(
                DOCS_BACKEND_KEY
            )))
        );
    }
}
