//! SPEC section 2 and 4 over real HTTP: the real component on `wasmtime serve`.

use crate::common;

use std::collections::HashSet;

use crate::common::{get, raw, send, Host};
use name_api::names::NAMES;

const KEY: &str = "test-backend-key-5f1e8c0d9b7a4e2f";
const DOCS_KEY: &str = "test-docs-backend-key-0c9d8e7f6a5b";

fn open_host() -> Host {
    Host::start(&[])
}

#[test]
fn generate_name_returns_a_listed_name_as_json() {
    let host = open_host();
    let reply = get(&host.url("/generate_name"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    let name = reply.json()["name"].as_str().unwrap().to_owned();
    assert!(NAMES.contains(&name.as_str()), "{name}");
}

/// Each request runs in a fresh instance, so an instance that seeded its own generator
/// from anything fixed would give every request the same name. (That the randomness is the
/// host's secure source rests on the `wasi:random/random` import, which
/// `component_artifact` pins, and on `SysRng` in `spin_entry.rs`: no output test can tell
/// a secure generator from an insecure one.)
#[test]
fn names_vary_per_request_so_no_instance_reuses_a_seed() {
    let host = open_host();
    let seen: HashSet<String> = (0..120)
        .map(|_| {
            get(&host.url("/generate_name")).json()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // 120 draws from 500+ names: a repeating or fixed seed would give few distinct names.
    assert!(
        seen.len() > 80,
        "only {} distinct names in 120 draws",
        seen.len()
    );
}

#[test]
fn starts_with_is_case_insensitive_and_unicode_aware() {
    let host = open_host();
    for (raw_query, lowercase_prefix) in [
        ("N", "n"),
        ("n", "n"),
        ("nA", "na"),
        ("%C3%91", "ñ"),
        ("%C3%B1u", "ñu"),
        ("%CE%94%CE%97%CE%9C", "δημ"),
        ("%D0%B0%D0%BD", "ан"),
        ("anne-", "anne-"),
        ("d%27a", "d'a"),
        ("mary+j", "mary j"),
        ("juan%20c", "juan c"),
    ] {
        for _ in 0..5 {
            let reply = get(&host.url(&format!("/generate_name?starts_with={raw_query}")));
            assert_eq!(reply.status, 200, "{raw_query}: {}", reply.text());
            let name = reply.json()["name"].as_str().unwrap().to_lowercase();
            assert!(
                name.starts_with(lowercase_prefix),
                "{raw_query} gave {name}"
            );
        }
    }
}

#[test]
fn no_match_is_a_404_problem_never_a_500() {
    let host = open_host();
    for query in ["%C3%91o", "Xyzzy", "q.", "zz", "%D1%8A"] {
        let reply = get(&host.url(&format!("/generate_name?starts_with={query}")));
        assert_eq!(reply.status, 404, "{query}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let body = reply.json();
        assert_eq!(body["status"], 404);
        assert_eq!(body["title"], "Not Found");
    }
}

/// What the host could change on the way to the router: the raw query bytes (no
/// decoding, `+`, NUL, control and invalid UTF-8 passed through), a repeated parameter,
/// lengths counted in characters. The full table of rules is `router`'s unit test.
#[test]
fn invalid_starts_with_reaches_the_component_raw_and_is_a_422() {
    let host = open_host();
    let long_multibyte = "%C3%A9".repeat(65);
    for (query, rule) in [
        ("starts_with=", "min_length"),
        (&format!("starts_with={long_multibyte}")[..], "max_length"),
        ("starts_with=a%00", "pattern"),
        ("starts_with=%0A", "pattern"),
        ("starts_with=a+1", "pattern"),
        ("starts_with=%zz", "encoding"),
        ("starts_with=%C3", "encoding"),
        ("starts_with=a&starts_with=a", "repeated"),
    ] {
        let reply = get(&host.url(&format!("/generate_name?{query}")));
        assert_eq!(reply.status, 422, "{query}: {}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let body = reply.json();
        assert_eq!(body["invalid_params"][0]["name"], "starts_with", "{query}");
        assert_eq!(body["invalid_params"][0]["rule"], rule, "{query}");
    }
    // 64 two-byte letters is the longest valid value.
    let max = "%C3%A9".repeat(64);
    assert_eq!(
        get(&host.url(&format!("/generate_name?starts_with={max}"))).status,
        404
    );
}

#[test]
fn unknown_query_parameters_are_ignored() {
    let host = open_host();
    assert_eq!(get(&host.url("/generate_name?foo=bar&x&%zz=1")).status, 200);
    let reply = get(&host.url("/generate_name?foo=1&starts_with=Z"));
    assert!(reply.json()["name"].as_str().unwrap().starts_with('Z'));
}

#[test]
fn openapi_json_has_etag_cache_control_and_conditional_get() {
    let host = open_host();
    let reply = get(&host.url("/openapi.json"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
    let committed = std::fs::read(common::repo_root().join("static-docs/openapi.json")).unwrap();
    assert_eq!(
        reply.body, committed,
        "served verbatim with the default api_base"
    );
    let etag = reply.header("etag").unwrap().to_owned();
    let again = send(
        "GET",
        &host.url("/openapi.json"),
        &[("if-none-match", &etag)],
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
}

#[test]
fn api_base_switches_the_advertised_server_without_a_rebuild() {
    let host = Host::start(&[("api_base", "/api")]);
    let reply = get(&host.url("/openapi.json"));
    assert_eq!(reply.json()["servers"][0]["url"], "/api");
    let bad = Host::start(&[("api_base", "not a url")]);
    assert_eq!(get(&bad.url("/openapi.json")).status, 503);
    assert_eq!(
        get(&bad.url("/generate_name")).status,
        200,
        "only the document depends on it"
    );
}

#[test]
fn docs_page_and_assets_are_served_with_types_and_caching() {
    let host = open_host();
    let page = get(&host.url("/docs"));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(page.text().contains("docs/swagger-ui-bundle.js"));
    for (path, content_type) in [
        (
            "/docs/swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
        ),
        ("/docs/swagger-ui.css", "text/css; charset=utf-8"),
        (
            "/docs/swagger-initializer.js",
            "text/javascript; charset=utf-8",
        ),
        ("/docs/favicon-32x32.png", "image/png"),
        ("/docs/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let reply = get(&host.url(path));
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert_eq!(
            reply.header("cache-control"),
            Some("public, max-age=300"),
            "{path}"
        );
        let on_disk =
            std::fs::read(common::repo_root().join("static-docs").join(&path[6..])).unwrap();
        assert_eq!(reply.body, on_disk, "{path} served byte for byte");
        let etag = reply.header("etag").unwrap();
        assert_eq!(
            send("GET", &host.url(path), &[("if-none-match", etag)]).status,
            304
        );
    }
}

#[test]
fn root_and_docs_slash_redirect_relatively() {
    let host = open_host();
    let root = get(&host.url("/"));
    assert_eq!(root.status, 307);
    assert_eq!(root.header("location"), Some("docs"));
    let slash = get(&host.url("/docs/"));
    assert_eq!(slash.status, 307);
    assert_eq!(slash.header("location"), Some("../docs"));
}

#[test]
fn head_gives_get_headers_without_a_body() {
    let host = open_host();
    for path in [
        "/openapi.json",
        "/docs",
        "/docs/swagger-ui.css",
        "/",
        "/nope",
        "/generate_name?starts_with=1",
    ] {
        let got = get(&host.url(path));
        let head = send("HEAD", &host.url(path), &[]);
        assert_eq!(head.status, got.status, "{path}");
        assert!(head.body.is_empty(), "{path}");
        // RFC 9110 9.3.2: HEAD's Content-Length is the length GET's body has.
        assert_eq!(
            head.header("content-length"),
            Some(&got.body.len().to_string()[..]),
            "{path}"
        );
        for name in [
            "content-type",
            "content-length",
            "cache-control",
            "etag",
            "location",
            "allow",
        ] {
            assert_eq!(head.header(name), got.header(name), "{path}: {name}");
        }
    }
    let head = send("HEAD", &host.url("/generate_name"), &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/json"));
    // A drawn name's length varies, so only its presence can be compared here.
    let length: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(length > r#"{"name":""}"#.len(), "{length}");
}

#[test]
fn other_methods_on_known_paths_are_405_with_allow() {
    let host = open_host();
    for method in [
        "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "QUERY",
    ] {
        for path in [
            "/generate_name",
            "/openapi.json",
            "/docs",
            "/docs/swagger-ui.css",
            "/",
        ] {
            let reply = send(method, &host.url(path), &[]);
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method} {path}");
            assert_eq!(reply.json()["status"], 405);
        }
    }
}

#[test]
fn unknown_paths_and_traversal_attempts_are_404_problems() {
    let host = open_host();
    for path in [
        "/nope",
        "/generate_name/",
        "/generate%5Fname",
        "//generate_name",
        "/docs/../openapi.json",
        "/docs/%2e%2e/Cargo.toml",
        "/docs/..%2f..%2fCargo.toml",
        "/docs/%2E%2E%5Csrc%5Clib.rs",
        "/docs/....//Cargo.toml",
        "/docs/index.html",
        "/docs/openapi.json",
        "/static-docs/openapi.json",
        "/docs/swagger-ui.css.map",
        "/Cargo.toml",
    ] {
        let reply = get(&host.url(path));
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{path}"
        );
    }
    // Sent raw, so no client can normalise the dot segments away.
    let response = raw(
        &host.base,
        b"GET /docs/../../Cargo.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(!response.contains("[package]"));
}

#[test]
fn backend_key_guards_every_route() {
    let host = Host::start(&[
        ("backend_key", KEY),
        ("docs_backend_key", DOCS_KEY),
        ("require_backend_key", "true"),
    ]);
    for (path, status) in [
        ("/generate_name", 200),
        ("/openapi.json", 200),
        ("/docs", 200),
        ("/docs/swagger-ui.css", 200),
        ("/", 307),
        ("/nope", 404),
    ] {
        let url = host.url(path);
        let missing = get(&url);
        assert_eq!(missing.status, 401, "{path}");
        assert_eq!(
            missing.header("content-type"),
            Some("application/problem+json")
        );
        assert!(missing.header("www-authenticate").is_some());
        for wrong in [
            "",
            "x",
            &KEY[..KEY.len() - 1],
            &KEY.to_uppercase(),
            &format!("{KEY}x"),
        ] {
            assert_eq!(
                send("GET", &url, &[("x-backend-key", wrong)]).status,
                401,
                "{path} {wrong:?}"
            );
        }
        let allowed = send("GET", &url, &[("x-backend-key", KEY)]);
        assert_eq!(allowed.status, status, "{path}");
        assert!(!missing.text().contains(KEY));
    }
    // Two copies of the header, even both correct, are refused.
    let twice = raw(
        &host.base,
        format!("GET /generate_name HTTP/1.1\r\nHost: x\r\nx-backend-key: {KEY}\r\nx-backend-key: {KEY}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(twice.starts_with("HTTP/1.1 401"), "{twice}");
    // The key in the query string is not the key.
    assert_eq!(
        get(&host.url(&format!("/generate_name?x-backend-key={KEY}"))).status,
        401
    );
    let log = host.log_text();
    assert!(
        !log.contains(KEY) && !log.contains(DOCS_KEY),
        "the keys must never be logged"
    );
}

#[test]
fn production_mode_without_a_key_fails_closed_and_says_why() {
    let host = Host::start(&[("require_backend_key", "true")]);
    for path in ["/generate_name", "/docs", "/openapi.json", "/nope"] {
        let reply = send("GET", &host.url(path), &[("x-backend-key", "")]);
        assert_eq!(reply.status, 503, "{path}");
        assert_eq!(reply.json()["status"], 503);
    }
    let log = host.log_text();
    assert!(
        log.contains("require_backend_key is true but backend_key is empty"),
        "{log}"
    );
    let typo = Host::start(&[("require_backend_key", "yes")]);
    assert_eq!(
        get(&typo.url("/generate_name")).status,
        503,
        "unknown values fail closed"
    );
}

#[test]
fn concurrent_requests_all_succeed() {
    let host = open_host();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let url = host.url("/generate_name?starts_with=a");
            std::thread::spawn(move || (0..20).all(|_| get(&url).status == 200))
        })
        .collect();
    assert!(threads.into_iter().all(|t| t.join().unwrap()));
}

#[test]
fn docs_assets_are_gzipped_for_clients_that_accept_it() {
    let host = open_host();
    let url = host.url("/docs/swagger-ui-bundle.js");
    let on_disk =
        std::fs::read(common::repo_root().join("static-docs/swagger-ui-bundle.js")).unwrap();
    let gz = send("GET", &url, &[("accept-encoding", "gzip, deflate, br")]);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert!(gz.body.len() < on_disk.len() / 2, "{} bytes", gz.body.len());
    let inflated =
        miniz_oxide::inflate::decompress_to_vec(&gz.body[10..gz.body.len() - 8]).unwrap();
    assert_eq!(inflated, on_disk);
    let plain = send("GET", &url, &[("accept-encoding", "identity")]);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, on_disk);
    assert_ne!(
        plain.header("etag"),
        gz.header("etag"),
        "one ETag per representation"
    );
    let revalidated = send(
        "GET",
        &url,
        &[
            ("accept-encoding", "gzip"),
            ("if-none-match", gz.header("etag").unwrap()),
        ],
    );
    assert_eq!(revalidated.status, 304);
    let head = send("HEAD", &url, &[("accept-encoding", "gzip")]);
    assert_eq!(
        head.header("content-length"),
        Some(&gz.body.len().to_string()[..])
    );
}
