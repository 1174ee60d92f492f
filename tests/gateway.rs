//! SPEC section 5 end to end: `apim-emulator` (reading `infra/apim/`) in front of the real
//! component on `wasmtime serve`, or in front of a recording backend where what reaches the
//! backend must be observed. Real processes, real HTTP on loopback.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{get, send, Emulator, Host, RecordingBackend};

const PRIMARY: &str = "primary-subscription-key-7c1d";
const SECONDARY: &str = "secondary-subscription-key-93ab";
const BACKEND_KEY: &str = "gateway-test-backend-key-4e8f21";
const DOCS_BACKEND_KEY: &str = "gateway-test-docs-backend-key-9a06c3";

// APIM's bodies byte for byte (the missing-key one is 152 bytes, as in Microsoft's docs).
pub(crate) const MISSING: &str = r#"{ "statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API." }"#;
pub(crate) const INVALID: &str = r#"{ "statusCode": 401, "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription." }"#;
const NOT_FOUND: &str = r#"{ "statusCode": 404, "message": "Resource not found" }"#;

/// The production shape: component requiring its two credentials, emulator injecting each
/// API's own.
fn stack(named: &[(&str, &str)]) -> (Host, Emulator) {
    let host = Host::start(&[
        ("backend_key", BACKEND_KEY),
        ("docs_backend_key", DOCS_BACKEND_KEY),
        ("require_backend_key", "true"),
        ("api_base", "/api"),
    ]);
    let mut named = named.to_vec();
    named.push(("backend-key", BACKEND_KEY));
    named.push(("docs-backend-key", DOCS_BACKEND_KEY));
    let emulator = Emulator::start(&host.base, &[PRIMARY, SECONDARY], &named);
    (host, emulator)
}

#[test]
fn public_docs_and_openapi_need_no_key() {
    let (_host, gw) = stack(&[]);
    let page = get(&gw.url("/public/docs"));
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(get(&gw.url("/public/docs/swagger-ui.css")).status, 200);
    let doc = get(&gw.url("/public/openapi.json"));
    assert_eq!(doc.status, 200);
    assert_eq!(
        doc.json()["servers"][0]["url"],
        "/api",
        "production server URL"
    );
    // The relative redirect of /docs/ lands on the prefixed page.
    let slash = get(&gw.url("/public/docs/"));
    assert_eq!(slash.status, 307);
    assert_eq!(slash.header("location"), Some("../docs"));
}

#[test]
fn api_needs_a_subscription_key_with_apim_bodies() {
    let (_host, gw) = stack(&[]);
    let missing = get(&gw.url("/api/generate_name"));
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert_eq!(missing.text(), MISSING);
    assert_eq!(MISSING.len(), 152);
    let challenge = missing.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with("AzureApiManagementKey realm=\"http://127.0.0.1:"),
        "{challenge}"
    );
    assert!(
        challenge.ends_with("/api\",name=\"Ocp-Apim-Subscription-Key\",type=\"header\""),
        "{challenge}"
    );
    for (headers, query) in [
        (vec![("Ocp-Apim-Subscription-Key", "wrong")], ""),
        (vec![], "?subscription-key=wrong"),
        (
            vec![("Ocp-Apim-Subscription-Key", &PRIMARY[..PRIMARY.len() - 1])],
            "",
        ),
        (vec![("Ocp-Apim-Subscription-Key", "")], ""),
    ] {
        let reply = send(
            "GET",
            &gw.url(&format!("/api/generate_name{query}")),
            &headers,
        );
        assert_eq!(reply.status, 401, "{headers:?} {query}");
        assert_eq!(reply.text(), INVALID, "{headers:?} {query}");
    }
}

#[test]
fn either_key_works_in_header_or_query() {
    let (_host, gw) = stack(&[]);
    for key in [PRIMARY, SECONDARY] {
        let by_header = send(
            "GET",
            &gw.url("/api/generate_name?starts_with=N"),
            &[("Ocp-Apim-Subscription-Key", key)],
        );
        assert_eq!(by_header.status, 200, "{}", by_header.text());
        assert!(by_header.json()["name"].as_str().unwrap().starts_with('N'));
        let lower = send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("ocp-apim-subscription-key", key)],
        );
        assert_eq!(lower.status, 200, "header names are case-insensitive");
        let by_query = get(&gw.url(&format!(
            "/api/generate_name?subscription-key={key}&starts_with=Z"
        )));
        assert_eq!(by_query.status, 200);
        assert!(by_query.json()["name"].as_str().unwrap().starts_with('Z'));
    }
    // Component errors pass through unchanged.
    let bad = send(
        "GET",
        &gw.url("/api/generate_name?starts_with=1"),
        &[("Ocp-Apim-Subscription-Key", PRIMARY)],
    );
    assert_eq!(bad.status, 422);
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
}

#[test]
fn key_is_stripped_and_backend_key_injected_before_the_backend() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let gw = Emulator::start(
        &backend.base,
        &[PRIMARY, SECONDARY],
        &[("backend-key", BACKEND_KEY)],
    );
    let reply = send(
        "GET",
        &gw.url(&format!(
            "/api/generate_name?starts_with=N&subscription-key={PRIMARY}&x=1"
        )),
        &[
            ("Ocp-Apim-Subscription-Key", PRIMARY),
            ("x-backend-key", "forged-by-client"),
        ],
    );
    assert_eq!(reply.status, 200);
    let seen = backend.requests();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(
        request.target, "/generate_name?starts_with=N&x=1",
        "prefix and key stripped, rest kept"
    );
    assert_eq!(request.header("Ocp-Apim-Subscription-Key"), None);
    assert_eq!(
        request.header("x-backend-key"),
        Some(BACKEND_KEY),
        "injected, overriding the forged one"
    );
    assert_eq!(
        request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-backend-key"))
            .count(),
        1
    );
    assert!(request.header("x-forwarded-for").is_some());
    // The public API forwards to the bare paths too, with its backend key.
    assert_eq!(get(&gw.url("/public/openapi.json")).status, 200);
    let public = backend.requests().pop().unwrap();
    assert_eq!(public.target, "/openapi.json");
    assert_eq!(public.header("x-backend-key"), Some(BACKEND_KEY));
    let log = gw.log_text();
    for secret in [PRIMARY, SECONDARY, BACKEND_KEY] {
        assert!(!log.contains(secret), "secret in the emulator log");
    }
}

#[test]
fn the_backend_refuses_callers_that_bypass_the_gateway() {
    let (host, gw) = stack(&[]);
    assert_eq!(get(&host.url("/generate_name")).status, 401);
    assert_eq!(get(&host.url("/docs")).status, 401);
    assert_eq!(
        send(
            "GET",
            &host.url("/generate_name"),
            &[("Ocp-Apim-Subscription-Key", PRIMARY)]
        )
        .status,
        401
    );
    assert_eq!(
        send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", PRIMARY)]
        )
        .status,
        200
    );
}

#[test]
fn unmatched_requests_are_apim_404s() {
    let (_host, gw) = stack(&[]);
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/api"),
        ("GET", "/api/"),
        ("GET", "/api/nope"),
        ("GET", "/api/generate_name/x"),
        ("GET", "/api/generate_name//"),
        ("POST", "/api/generate_name"),
        ("GET", "/public/nope"),
        ("GET", "/public/generate_name"),
        ("GET", "/generate_name"),
        ("GET", "//api/generate_name"),
    ] {
        let reply = send(
            method,
            &gw.url(path),
            &[("Ocp-Apim-Subscription-Key", PRIMARY)],
        );
        assert_eq!(reply.status, 404, "{method} {path}");
        assert_eq!(reply.text(), NOT_FOUND, "{method} {path}");
    }
}

#[test]
fn rate_limit_per_subscription_with_retry_after_and_reset() {
    let (_host, gw) = stack(&[
        ("rate-limit-calls", "3"),
        ("rate-limit-renewal-period", "2"),
    ]);
    let call = || {
        send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", PRIMARY)],
        )
    };
    let window = Instant::now();
    for remaining in ["2", "1", "0"] {
        let ok = call();
        assert_eq!(ok.status, 200);
        // remaining-calls-header-name / total-calls-header-name (rate-limit reference).
        assert_eq!(ok.header("x-ratelimit-remaining"), Some(remaining));
        assert_eq!(ok.header("x-ratelimit-limit"), Some("3"));
    }
    let limited = call();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(limited.header("x-ratelimit-limit"), Some("3"));
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        limited.text(),
        format!(
            r#"{{ "statusCode": 429, "message": "Rate limit is exceeded. Try again in {retry_after} seconds." }}"#
        )
    );
    // Both keys are one subscription: the secondary is limited too.
    assert_eq!(
        send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", SECONDARY)]
        )
        .status,
        429
    );
    // The public API is not limited, and has no rate-limit headers.
    let public = get(&gw.url("/public/openapi.json"));
    assert_eq!(public.status, 200);
    assert_eq!(public.header("x-ratelimit-remaining"), None);
    std::thread::sleep(
        Duration::from_secs(2).saturating_sub(window.elapsed()) + Duration::from_millis(100),
    );
    assert_eq!(call().status, 200, "the window renewed");
}

#[test]
fn cors_preflight_is_answered_by_the_gateway_without_a_key() {
    let (_host, gw) = stack(&[]);
    let preflight = send(
        "OPTIONS",
        &gw.url("/api/generate_name"),
        &[
            ("Origin", "https://example.org"),
            ("Access-Control-Request-Method", "GET"),
            (
                "Access-Control-Request-Headers",
                "ocp-apim-subscription-key",
            ),
        ],
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("ocp-apim-subscription-key")
    );
    assert_eq!(preflight.header("access-control-max-age"), Some("600"));
    let refused = send(
        "OPTIONS",
        &gw.url("/api/generate_name"),
        &[
            ("Origin", "https://example.org"),
            ("Access-Control-Request-Method", "DELETE"),
        ],
    );
    assert_eq!(refused.status, 200);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        None,
        "unmatched preflight gets no CORS headers"
    );
    let actual = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[
            ("Origin", "https://example.org"),
            ("Ocp-Apim-Subscription-Key", PRIMARY),
        ],
    );
    assert_eq!(actual.status, 200);
    assert_eq!(actual.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        actual.header("access-control-expose-headers"),
        Some("Retry-After,X-RateLimit-Remaining,X-RateLimit-Limit")
    );
    let denied = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Origin", "https://example.org")],
    );
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("access-control-allow-origin"),
        Some("*"),
        "browsers can read the 401"
    );
}

#[test]
fn public_responses_are_cached_on_a_tier_with_a_cache() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let gw = Emulator::start_with_env(
        &backend.base,
        &[PRIMARY],
        &[("backend-key", BACKEND_KEY)],
        &[("APIM_EMULATOR_TIER", "StandardV2")],
    );
    let first = get(&gw.url("/public/openapi.json"));
    let second = get(&gw.url("/public/openapi.json"));
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.body, second.body);
    assert_eq!(
        backend.requests().len(),
        1,
        "second request served from the cache"
    );
    assert_eq!(get(&gw.url("/public/docs")).status, 200);
    assert_eq!(backend.requests().len(), 2, "another URL is a miss");
    // The api API is not cached: every call reaches the backend.
    for _ in 0..2 {
        send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", PRIMARY)],
        );
    }
    assert_eq!(backend.requests().len(), 4);
    let log = gw.log_text();
    assert!(
        log.contains(
            "GET /public/openapi.json -> 200 api=name-api-public op=openapi sub=- cache=miss"
        ),
        "{log}"
    );
    assert!(
        log.contains(
            "GET /public/openapi.json -> 200 api=name-api-public op=openapi sub=- cache=hit"
        ),
        "{log}"
    );
}

#[test]
fn unreachable_backend_is_an_apim_style_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gw = Emulator::start(
        &format!("http://127.0.0.1:{port}"),
        &[PRIMARY],
        &[("backend-key", BACKEND_KEY)],
    );
    let started = Instant::now();
    let reply = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Ocp-Apim-Subscription-Key", PRIMARY)],
    );
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["statusCode"], 500);
    assert_eq!(reply.json()["message"], "Internal server error");
    assert_eq!(reply.json()["activityId"].as_str().unwrap().len(), 36);
    assert!(started.elapsed() < Duration::from_secs(6));
}

/// Copy `infra/` and `static-docs/openapi.json` to a scratch root and break one file.
fn broken_root(file: &str, from: &str, to: &str) -> std::path::PathBuf {
    broken_root_with(file, &[(from, to)])
}

/// [`broken_root`] with several replacements in one file.
fn broken_root_with(file: &str, edits: &[(&str, &str)]) -> std::path::PathBuf {
    let root = common::artifacts_dir().join(format!(
        "broken-{}-{}-{}",
        std::process::id(),
        file.replace('/', "_"),
        edits.len()
    ));
    let _ = std::fs::remove_dir_all(&root);
    for dir in ["infra/apim/apis", "infra/apim/policies", "static-docs"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for f in [
        "infra/apim/apis/api.json",
        "infra/apim/apis/public.json",
        "infra/apim/policies/api.xml",
        "infra/apim/policies/public.xml",
        "infra/apim/backends.json",
        "infra/apim/named-values.json",
        "static-docs/openapi.json",
    ] {
        std::fs::copy(common::repo_root().join(f), root.join(f)).unwrap();
    }
    let path = root.join(file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{file} has no {from}");
        text = text.replacen(from, to, 1);
    }
    std::fs::write(&path, text).unwrap();
    root
}

#[test]
fn unknown_policy_elements_attributes_and_names_stop_the_start() {
    for (file, from, to, expect) in [
        (
            "infra/apim/policies/api.xml",
            "<rate-limit ",
            "<rate-limit-by-key ",
            "<rate-limit-by-key> is not implemented",
        ),
        (
            "infra/apim/policies/public.xml",
            "duration=\"300\"",
            "duration=\"300\" cache-response=\"true\"",
            "attribute `cache-response` is not implemented",
        ),
        (
            "infra/apim/policies/api.xml",
            "{{rate-limit-calls}}",
            "{{no-such-value}}",
            "unknown named value {{no-such-value}}",
        ),
        (
            "infra/apim/policies/api.xml",
            "<set-header name=\"Ocp-Apim-Subscription-Key\" exists-action=\"delete\" />",
            "<set-header name=\"X-Url\" exists-action=\"override\"><value>@(context.Request.Url.ToString())</value></set-header>",
            "policy expressions (@(...), @{...}) are not implemented",
        ),
        (
            "infra/apim/policies/api.xml",
            "<set-header name=\"Ocp-Apim-Subscription-Key\" exists-action=\"delete\" />",
            "<set-header name=\"Ocp-Apim-Subscription-Key\" exists-action=\"delete\" if=\"x\" />",
            "attribute `if` is not implemented",
        ),
        (
            "infra/apim/policies/api.xml",
            "backend-id=\"name-api-backend\"",
            "backend-id=\"name-api-backnd\"",
            "backend-id \"name-api-backnd\" is not a declared backend",
        ),
        (
            "infra/apim/policies/api.xml",
            "renewal-period=\"{{rate-limit-renewal-period}}\"",
            "renewal-period=\"301\"",
            "renewal-period 301 is above APIM's maximum of 300 seconds",
        ),
        (
            "infra/apim/policies/public.xml",
            "<cache-store",
            "<cache-stor",
            "<cache-stor> is not implemented",
        ),
        (
            "infra/apim/policies/public.xml",
            "</policies>",
            "</policie>",
            "not well-formed XML",
        ),
        (
            "infra/apim/backends.json",
            "{{backend-key}}",
            "{{backend-kee}}",
            "unknown named value",
        ),
    ] {
        let root = broken_root(file, from, to);
        let err = match Emulator::start_in(
            &root,
            "http://127.0.0.1:9",
            &[PRIMARY],
            &[("backend-key", BACKEND_KEY)],
        ) {
            Ok(_) => panic!("started despite {to} in {file}"),
            Err(output) => output,
        };
        assert!(err.contains(expect), "{file}: {err}");
        assert!(
            err.contains(file.rsplit('/').next().unwrap()),
            "names the file: {err}"
        );
        if file.ends_with(".xml") && !expect.contains("well-formed") {
            assert!(err.contains(".xml:"), "names the line: {err}");
        }
    }
    // A secret named value without a value stops it too.
    let err = Emulator::start_in(&common::repo_root(), "http://127.0.0.1:9", &[PRIMARY], &[])
        .err()
        .unwrap();
    assert!(err.contains("backend-key"), "{err}");
}

/// The least-privilege design (SPEC section 4): each API injects its own backend entity's
/// credential, so a public docs request never carries the key that unlocks `/generate_name`.
#[test]
fn each_api_injects_its_own_backend_credential() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let gw = Emulator::start(
        &backend.base,
        &[PRIMARY],
        &[
            ("backend-key", BACKEND_KEY),
            ("docs-backend-key", DOCS_BACKEND_KEY),
        ],
    );
    let api = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Ocp-Apim-Subscription-Key", PRIMARY)],
    );
    assert_eq!(api.status, 200);
    for path in [
        "/public/docs",
        "/public/docs/swagger-ui.css",
        "/public/openapi.json",
    ] {
        assert_eq!(get(&gw.url(path)).status, 200, "{path}");
    }
    let seen = backend.requests();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].target, "/generate_name");
    assert_eq!(seen[0].header("x-backend-key"), Some(BACKEND_KEY));
    for request in &seen[1..] {
        assert_eq!(
            request.header("x-backend-key"),
            Some(DOCS_BACKEND_KEY),
            "{}",
            request.target
        );
    }
    let log = gw.log_text();
    assert!(!log.contains(BACKEND_KEY) && !log.contains(DOCS_BACKEND_KEY));
}

const BAD_PATH_DOTS: &str =
    r#"{ "statusCode": 400, "message": "Invalid request path: dot segments are not accepted" }"#;
const BAD_PATH_ENCODED: &str = r#"{ "statusCode": 400, "message": "Invalid request path: encoded dots and separators are not accepted" }"#;

/// Dot segments and encoded separators never reach the backend (issue 9 item 4): Traefik
/// decodes `%2e` and removes dot segments before routing, so `/public/docs/%2e%2e/x`
/// forwarded as `/docs/%2e%2e/x` could become `/x` behind it, with the API's credential.
#[test]
fn dot_segments_and_encoded_separators_are_refused_for_every_api() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let gw = Emulator::start(&backend.base, &[PRIMARY], &[("backend-key", BACKEND_KEY)]);
    let mut cases = Vec::new();
    for prefix in ["/api", "/public", "/public/docs"] {
        for (rest, body) in [
            ("/../generate_name", BAD_PATH_DOTS),
            ("/./generate_name", BAD_PATH_DOTS),
            ("/..", BAD_PATH_DOTS),
            ("/%2e%2e/generate_name", BAD_PATH_ENCODED),
            ("/%2E%2E/generate_name", BAD_PATH_ENCODED),
            ("/.%2e/generate_name", BAD_PATH_ENCODED),
            ("/%2e/generate_name", BAD_PATH_ENCODED),
            ("/x%2fgenerate_name", BAD_PATH_ENCODED),
            ("/x%2Fgenerate_name", BAD_PATH_ENCODED),
            ("/x%5cgenerate_name", BAD_PATH_ENCODED),
            ("/x%5C..%5Cgenerate_name", BAD_PATH_ENCODED),
        ] {
            cases.push((format!("{prefix}{rest}"), body));
        }
    }
    cases.push((
        "/public/docs/%2e%2e/generate_name?subscription-key=x".into(),
        BAD_PATH_ENCODED,
    ));
    for (path, body) in cases {
        // Raw bytes: an HTTP client library would normalise the dot segments itself.
        let reply = common::raw(
            &gw.base,
            format!(
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOcp-Apim-Subscription-Key: {PRIMARY}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        assert!(reply.starts_with("HTTP/1.1 400 "), "{path}: {reply}");
        assert!(
            reply.contains("content-type: application/json"),
            "{path}: {reply}"
        );
        assert!(reply.ends_with(body), "{path}: {reply}");
    }
    assert!(backend.requests().is_empty(), "nothing was forwarded");
    // Dots inside a segment are ordinary characters.
    assert_eq!(get(&gw.url("/public/docs/swagger-ui.css")).status, 200);
    assert_eq!(get(&gw.url("/public/docs/a..b")).status, 200);
}

fn write_settings(path: &std::path::Path, text: &str) {
    // Write then rename, so the emulator never reads a half-written file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

/// `--settings-file`: backend URL and named values, re-read on SIGHUP and swapped whole;
/// a file that does not load is logged by name (never a value) and the old settings stay.
#[test]
fn settings_file_is_reread_on_sighup_and_a_bad_one_is_refused() {
    let first = RecordingBackend::start(Duration::ZERO);
    let second = RecordingBackend::start(Duration::ZERO);
    let settings = common::artifacts_dir().join(format!("settings-{}.json", std::process::id()));
    let keys = |backend: &str, key: &str, docs: &str| {
        serde_json::json!({"backend": backend, "namedValues": {"backend-key": key, "docs-backend-key": docs}})
            .to_string()
    };
    write_settings(
        &settings,
        &keys(&first.base, "rotation-key-one-4411", "docs-one-77"),
    );
    let gw = Emulator::start_with_env(
        // The file overrides the backend and the keys given here.
        "http://127.0.0.1:9",
        &[PRIMARY],
        &[("backend-key", "overridden-by-the-file")],
        &[("APIM_EMULATOR_SETTINGS_FILE", settings.to_str().unwrap())],
    );
    let call = || {
        send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", PRIMARY)],
        )
        .status
    };
    assert_eq!(call(), 200);
    assert_eq!(get(&gw.url("/public/openapi.json")).status, 200);
    let seen = first.requests();
    assert_eq!(
        seen[0].header("x-backend-key"),
        Some("rotation-key-one-4411")
    );
    assert_eq!(seen[1].header("x-backend-key"), Some("docs-one-77"));

    // Rotation and a rolling backend switch: new key, new backend, no restart.
    write_settings(
        &settings,
        &keys(&second.base, "rotation-key-two-5522", "docs-two-88"),
    );
    let line = gw.hangup();
    assert!(line.contains("settings reloaded"), "{line}");
    assert_eq!(call(), 200);
    assert_eq!(
        first.requests().len(),
        2,
        "the old backend gets nothing more"
    );
    assert_eq!(
        second.requests()[0].header("x-backend-key"),
        Some("rotation-key-two-5522")
    );

    // Broken files: each is refused, the running settings stay, no value is logged.
    for (text, expect) in [
        (r#"{"namedValues": {"backend-key": "secret-three-zqxw""#.to_owned(), "not valid JSON"),
        (r#"{"namedValues": {"backend-key": 987654321987}}"#.to_owned(), "not the expected shape"),
        (r#"{"backend": "http://x:1", "secret-three-zqxw": 1}"#.to_owned(), "not the expected shape"),
        (
            serde_json::json!({"namedValues": {"backend-key": "secret-three-zqxw", "no-such-value": "x"}}).to_string(),
            "named value no-such-value: not declared",
        ),
        (
            serde_json::json!({"namedValues": {"backend-key": "secret\nthree-zqxw"}}).to_string(),
            "credentials header x-backend-key: not a valid header value",
        ),
        (
            serde_json::json!({"backend": "https://127.0.0.1:1"}).to_string(),
            "must be an http:// URL",
        ),
    ] {
        write_settings(&settings, &text);
        let line = gw.hangup();
        assert!(line.contains("settings not reloaded"), "{line}");
        assert!(line.contains(expect), "{expect}: {line}");
        assert_eq!(call(), 200);
        let last = second.requests().pop().unwrap();
        assert_eq!(last.header("x-backend-key"), Some("rotation-key-two-5522"));
    }
    std::fs::remove_file(&settings).unwrap();
    let line = gw.hangup();
    assert!(line.contains("settings not reloaded") && line.contains("reading settings file"));
    assert_eq!(call(), 200);
    let log = gw.log_text();
    for secret in [
        "rotation-key",
        "docs-one",
        "docs-two",
        "zqxw",
        "987654321987",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// A scripted backend on loopback, like the component's docs route: `gzip` when the
/// request's `Accept-Encoding` lines mention it, `identity` otherwise; `ETag: "v1"` and a
/// 304 for `If-None-Match: "v1"`; `Cache-Control: public, max-age=60`. `/docs/big` is
/// 32 MiB; `/docs/a{N}` is 4000 bytes. Returns its base URL and what it saw.
fn docs_backend() -> (String, std::sync::Arc<std::sync::Mutex<Vec<common::Seen>>>) {
    use std::io::{BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = record.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while let Some(seen) = common::read_request_head(&mut reader) {
                    let target = seen.target.clone();
                    let gzip = seen.headers.iter().any(|(n, v)| {
                        n.eq_ignore_ascii_case("accept-encoding") && v.contains("gzip")
                    });
                    let not_modified = seen.header("if-none-match") == Some("\"v1\"");
                    record.lock().unwrap().push(seen);
                    let body: Vec<u8> = if target == "/docs/big" {
                        vec![b'x'; 32 << 20]
                    } else if target.starts_with("/docs/a") {
                        vec![b'a'; 4000]
                    } else if gzip {
                        b"GZIP-BODY".to_vec()
                    } else {
                        b"IDENTITY-BODY".to_vec()
                    };
                    let head = if not_modified {
                        "HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\ncache-control: public, max-age=60\r\n\r\n".to_owned()
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\netag: \"v1\"\r\ncache-control: public, max-age=60\r\nvary: Accept-Encoding\r\n{}content-length: {}\r\n\r\n",
                            if gzip { "content-encoding: gzip\r\n" } else { "" },
                            body.len()
                        )
                    };
                    let mut stream = &stream;
                    if stream.write_all(head.as_bytes()).is_err()
                        || (!not_modified && stream.write_all(&body).is_err())
                    {
                        return;
                    }
                }
            });
        }
    });
    (base, seen)
}

fn cache_tier(backend: &str, extra: &[(&str, &str)]) -> Emulator {
    let mut env = vec![("APIM_EMULATOR_TIER", "StandardV2")];
    env.extend_from_slice(extra);
    Emulator::start_with_env(backend, &[PRIMARY], &[("backend-key", BACKEND_KEY)], &env)
}

/// Raw GET with the given header lines; returns (status line, headers text, body text).
fn raw_get(gw: &Emulator, path: &str, headers: &[(&str, &str)]) -> (String, String, String) {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let reply = common::raw(&gw.base, request.as_bytes());
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        body.to_owned(),
    )
}

/// Microsoft's "Caching overview": no built-in cache on Consumption, so the policies do
/// nothing there (the default tier, as `infra/main.bicep` deploys).
#[test]
fn consumption_tier_has_no_cache() {
    let (base, seen) = docs_backend();
    let gw = Emulator::start(&base, &[PRIMARY], &[("backend-key", BACKEND_KEY)]);
    for _ in 0..3 {
        assert_eq!(get(&gw.url("/public/openapi.json")).status, 200);
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "every request reached the backend"
    );
    assert!(gw.log_text().contains("cache=- "), "{}", gw.log_text());
    // The client's validators reach the backend, whose 304 passes through.
    let (status, _, _) = raw_get(&gw, "/public/openapi.json", &[("If-None-Match", "\"v1\"")]);
    assert_eq!(status, "HTTP/1.1 304 Not Modified");
}

/// The key holds the representation (gzip or identity), not the `Accept-Encoding` text:
/// 400 spellings make one entry, and header lines are read as one list.
#[test]
fn cache_key_is_the_chosen_representation() {
    let (base, seen) = docs_backend();
    let gw = cache_tier(&base, &[]);
    // Split over two lines, gzip in the second: a gzip body, stored for gzip clients.
    let (status, headers, body) = raw_get(
        &gw,
        "/public/openapi.json",
        &[("Accept-Encoding", "br"), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("content-encoding: gzip"));
    assert_eq!(body, "GZIP-BODY");
    // Clients that refuse gzip never get it from the cache.
    for refusing in [
        vec![],
        vec![("Accept-Encoding", "identity")],
        vec![("Accept-Encoding", "gzip;q=0, identity")],
        vec![("Accept-Encoding", "br"), ("Accept-Encoding", "identity")],
    ] {
        let (status, headers, body) = raw_get(&gw, "/public/openapi.json", &refusing);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            !headers.contains("content-encoding"),
            "{refusing:?}: {headers}"
        );
        assert_eq!(body, "IDENTITY-BODY", "{refusing:?}");
    }
    assert_eq!(seen.lock().unwrap().len(), 2, "one miss per representation");
    // 400 different spellings: no new entry, no new backend call.
    for i in 0..400 {
        let ae = format!("identity, x-{i}");
        let reply = send(
            "GET",
            &gw.url("/public/openapi.json"),
            &[("Accept-Encoding", ae.as_str())],
        );
        assert_eq!(reply.status, 200);
    }
    let (_, _, body) = raw_get(
        &gw,
        "/public/openapi.json",
        &[("Accept-Encoding", "gzip, x-1")],
    );
    assert_eq!(body, "GZIP-BODY");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// cache-lookup reference: `allow-private-response-caching` defaults to false, so a
/// request with `Authorization` is neither served from nor stored in the cache.
#[test]
fn authorization_requests_bypass_the_cache() {
    let (base, seen) = docs_backend();
    let gw = cache_tier(&base, &[]);
    let bearer = [("Authorization", "Bearer abc")];
    send("GET", &gw.url("/public/openapi.json"), &bearer);
    send("GET", &gw.url("/public/openapi.json"), &bearer);
    assert_eq!(seen.lock().unwrap().len(), 2, "not served from the cache");
    assert_eq!(get(&gw.url("/public/openapi.json")).status, 200);
    assert_eq!(seen.lock().unwrap().len(), 3, "nothing was stored for them");
    assert_eq!(get(&gw.url("/public/openapi.json")).status, 200);
    assert_eq!(seen.lock().unwrap().len(), 3, "a hit");
    send("GET", &gw.url("/public/openapi.json"), &bearer);
    assert_eq!(
        seen.lock().unwrap().len(),
        4,
        "still not served from the cache"
    );
    assert!(gw.log_text().contains("cache=private"));
}

/// A miss removes the client's validators before forwarding, so the stored and served
/// response is the backend's 200, never a 304 answering one client's `If-None-Match`.
/// `downstream-caching-type="public"` and the default `must-revalidate="true"` show in
/// `Cache-Control`.
#[test]
fn a_conditional_miss_stores_the_full_200() {
    let (base, seen) = docs_backend();
    let gw = cache_tier(&base, &[]);
    let (status, headers, body) =
        raw_get(&gw, "/public/openapi.json", &[("If-None-Match", "\"v1\"")]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "IDENTITY-BODY");
    assert!(
        headers.contains("cache-control: public, max-age=60, must-revalidate"),
        "{headers}"
    );
    assert_eq!(seen.lock().unwrap()[0].header("if-none-match"), None);
    let (status, headers, body) = raw_get(&gw, "/public/openapi.json", &[]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "IDENTITY-BODY");
    assert!(
        headers.contains("cache-control: public, max-age=60, must-revalidate"),
        "{headers}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "served from the cache");
}

/// The cache has a total bound: old entries are evicted, the newest stay.
#[test]
fn the_cache_is_bounded_and_evicts_the_oldest() {
    let (base, seen) = docs_backend();
    // 64 KiB in all: about fifteen 4000-byte entries.
    let gw = cache_tier(&base, &[("APIM_EMULATOR_CACHE_MAX_BYTES", "65536")]);
    for i in 0..100 {
        assert_eq!(get(&gw.url(&format!("/public/docs/a{i}"))).status, 200);
    }
    assert_eq!(seen.lock().unwrap().len(), 100);
    assert_eq!(get(&gw.url("/public/docs/a99")).status, 200);
    assert_eq!(seen.lock().unwrap().len(), 100, "the newest is a hit");
    assert_eq!(get(&gw.url("/public/docs/a0")).status, 200);
    assert_eq!(seen.lock().unwrap().len(), 101, "the oldest was evicted");
}

/// A client that stops reading is cut off after the write timeout; others are served.
#[test]
fn slow_readers_are_cut_off() {
    use std::io::{Read, Write};
    let (base, _seen) = docs_backend();
    let gw = Emulator::start_with_env(
        &base,
        &[PRIMARY],
        &[("backend-key", BACKEND_KEY)],
        &[("APIM_EMULATOR_WRITE_TIMEOUT", "1")],
    );
    let mut slow = std::net::TcpStream::connect(gw.base.trim_start_matches("http://")).unwrap();
    slow.write_all(b"GET /public/docs/big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        get(&gw.url("/public/openapi.json")).status,
        200,
        "others are served"
    );
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = loop {
        match slow.read(&mut buf) {
            Ok(0) => break "eof",
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!("the connection stayed open: {e} after {total} bytes"),
        }
    };
    assert!(
        total < 32 << 20,
        "{ended} after all {total} bytes: not cut off"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The 401 challenge's realm uses `Host` only when it is a host name: quotes and
/// parameters from a client never reach `WWW-Authenticate`.
#[test]
fn host_is_not_written_unescaped_into_the_challenge() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let gw = Emulator::start(&backend.base, &[PRIMARY], &[("backend-key", BACKEND_KEY)]);
    for (host, realm) in [
        ("evil\", error=\"x", "http://localhost/api"),
        ("a\\b", "http://localhost/api"),
        ("gw.example:8443", "http://gw.example:8443/api"),
    ] {
        let reply = common::raw(
            &gw.base,
            format!("GET /api/generate_name HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert!(reply.starts_with("HTTP/1.1 401 "), "{reply}");
        let expected = format!("www-authenticate: AzureApiManagementKey realm=\"{realm}\",name=\"Ocp-Apim-Subscription-Key\",type=\"header\"\r\n");
        assert!(
            reply
                .to_ascii_lowercase()
                .contains(&expected.to_ascii_lowercase()),
            "{host}: {reply}"
        );
    }
}

/// Subscriptions doc, summary table: an API that requires no subscription still refuses a
/// key that is not valid for it; the public API is in no product, so every key is.
#[test]
fn a_key_sent_to_the_public_api_is_a_401() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let gw = Emulator::start(&backend.base, &[PRIMARY], &[("backend-key", BACKEND_KEY)]);
    for (headers, query) in [
        (vec![("Ocp-Apim-Subscription-Key", PRIMARY)], ""),
        (vec![("Ocp-Apim-Subscription-Key", "wrong")], ""),
        (vec![], "?subscription-key=anything"),
        (vec![], &*format!("?subscription-key={PRIMARY}")),
    ] {
        let reply = send(
            "GET",
            &gw.url(&format!("/public/openapi.json{query}")),
            &headers,
        );
        assert_eq!(reply.status, 401, "{headers:?} {query}");
        assert_eq!(reply.text(), INVALID);
        assert!(reply
            .header("www-authenticate")
            .unwrap()
            .contains("/public\""));
    }
    assert!(backend.requests().is_empty());
    assert_eq!(
        get(&gw.url("/public/openapi.json")).status,
        200,
        "no key: served"
    );
}

/// forward-request reference: `timeout` is optional (default 300 s).
#[test]
fn forward_request_without_timeout_is_valid() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let root = broken_root(
        "infra/apim/policies/api.xml",
        "<forward-request timeout=\"{{backend-timeout}}\" />",
        "<forward-request />",
    );
    let gw = Emulator::start_in(
        &root,
        &backend.base,
        &[PRIMARY],
        &[("backend-key", BACKEND_KEY)],
    )
    .unwrap_or_else(|log| panic!("refused: {log}"));
    let reply = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Ocp-Apim-Subscription-Key", PRIMARY)],
    );
    assert_eq!(reply.status, 200);
}

/// cors reference: `terminate-unmatched-request="true"` ends unmatched simple GET/HEAD
/// requests with an empty 200 too (not only preflights); `allowed-methods` omitted means
/// GET and POST.
#[test]
fn cors_terminates_unmatched_simple_requests_and_defaults_to_get_and_post() {
    let backend = RecordingBackend::start(Duration::ZERO);
    let root = broken_root_with(
        "infra/apim/policies/api.xml",
        &[
            ("<origin>*</origin>", "<origin>https://good.example</origin>"),
            (
                "<allowed-methods preflight-result-max-age=\"600\">\n        <method>GET</method>\n      </allowed-methods>",
                "",
            ),
        ],
    );
    let gw = Emulator::start_in(
        &root,
        &backend.base,
        &[PRIMARY],
        &[("backend-key", BACKEND_KEY)],
    )
    .unwrap_or_else(|log| panic!("refused: {log}"));
    let key = ("Ocp-Apim-Subscription-Key", PRIMARY);
    let evil = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Origin", "https://evil.example"), key],
    );
    assert_eq!(evil.status, 200);
    assert!(evil.body.is_empty(), "an empty 200");
    assert_eq!(evil.header("access-control-allow-origin"), None);
    assert!(backend.requests().is_empty(), "terminated at the gateway");
    let good = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Origin", "https://good.example"), key],
    );
    assert_eq!(good.status, 200);
    assert_eq!(
        good.header("access-control-allow-origin"),
        Some("https://good.example")
    );
    assert_eq!(backend.requests().len(), 1);
    let preflight = |method: &str| {
        send(
            "OPTIONS",
            &gw.url("/api/generate_name"),
            &[
                ("Origin", "https://good.example"),
                ("Access-Control-Request-Method", method),
            ],
        )
    };
    assert_eq!(
        preflight("POST").header("access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        preflight("GET").header("access-control-allow-methods"),
        Some("GET")
    );
    assert_eq!(
        preflight("DELETE").header("access-control-allow-methods"),
        None
    );
    // With the deployed policy (origin *, GET only), a HEAD with an Origin is unmatched.
    let deployed = Emulator::start(&backend.base, &[PRIMARY], &[("backend-key", BACKEND_KEY)]);
    let head = send(
        "HEAD",
        &deployed.url("/api/generate_name"),
        &[("Origin", "https://x.example"), key],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("access-control-allow-origin"), None);
    assert_eq!(backend.requests().len(), 1, "not forwarded");
}

/// An idle kept-alive connection is closed after the header read timeout (hyper starts
/// it when it waits for the next request head).
#[test]
fn idle_kept_alive_connections_are_closed() {
    use std::io::{Read, Write};
    let backend = RecordingBackend::start(Duration::ZERO);
    let gw = Emulator::start_with_env(
        &backend.base,
        &[PRIMARY],
        &[("backend-key", BACKEND_KEY)],
        &[("APIM_EMULATOR_HEADER_READ_TIMEOUT", "1")],
    );
    let mut idle = std::net::TcpStream::connect(gw.base.trim_start_matches("http://")).unwrap();
    idle.write_all(b"GET /public/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match idle.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the idle connection stayed open: {e}"),
        }
    }
    assert!(received.starts_with(b"HTTP/1.1 200 OK"), "answered first");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
