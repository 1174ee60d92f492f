//! Bypass attempts against the gateway and the component (docs/security.md), and fault
//! injection behind the gateway. Every row of that page's table is one assertion here.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{get, raw, send, Emulator, Host, RecordingBackend};

const KEY: &str = "security-subscription-key-41aa";
const OTHER: &str = "security-subscription-key-2-9c0d";
const BACKEND_KEY: &str = "security-backend-key-e07b55";
const DOCS_BACKEND_KEY: &str = "security-docs-backend-key-5d13a0";

fn stack() -> (Host, Emulator) {
    let host = Host::start(&[
        ("backend_key", BACKEND_KEY),
        ("docs_backend_key", DOCS_BACKEND_KEY),
        ("require_backend_key", "true"),
        ("api_base", "/api"),
    ]);
    let gw = Emulator::start(&host.base, &[KEY, OTHER], &[("backend-key", BACKEND_KEY)]);
    (host, gw)
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[test]
fn subscription_key_variants() {
    let (_host, gw) = stack();
    let api = gw.url("/api/generate_name");
    let with = |headers: &[(&str, &str)]| send("GET", &api, headers).status;
    assert_eq!(with(&[]), 401, "no key");
    assert_eq!(
        with(&[("Ocp-Apim-Subscription-Key", "nope")]),
        401,
        "wrong key"
    );
    assert_eq!(
        with(&[("Ocp-Apim-Subscription-Key", &KEY.to_uppercase())]),
        401,
        "key in another case"
    );
    assert_eq!(
        with(&[("OCP-APIM-SUBSCRIPTION-KEY", KEY)]),
        200,
        "header name in another case"
    );
    assert_eq!(
        with(&[("Ocp-Apim-Subscription-Key", &format!("{KEY}x"))]),
        401,
        "key with a suffix"
    );
    // Surrounding whitespace of a header value is not part of it (RFC 9110 5.5).
    let padded = raw(&gw.base, format!("GET /api/generate_name HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key:   {KEY}  \r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(status_line(&padded), "HTTP/1.1 200 OK", "{padded}");
    // Whitespace inside the query value is part of it.
    assert_eq!(
        get(&gw.url(&format!("/api/generate_name?subscription-key=%20{KEY}"))).status,
        401
    );
    // Header wins over query, as in APIM.
    assert_eq!(
        send(
            "GET",
            &format!("{api}?subscription-key=wrong"),
            &[("Ocp-Apim-Subscription-Key", KEY)]
        )
        .status,
        200
    );
    assert_eq!(
        send(
            "GET",
            &format!("{api}?subscription-key={KEY}"),
            &[("Ocp-Apim-Subscription-Key", "wrong")]
        )
        .status,
        401
    );
    // Two key headers, even both valid: refused.
    let twice = raw(
        &gw.base,
        format!("GET /api/generate_name HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {KEY}\r\nOcp-Apim-Subscription-Key: {OTHER}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status_line(&twice), "HTTP/1.1 401 Unauthorized", "{twice}");
    // A key in another parameter name is no key.
    assert_eq!(
        get(&gw.url(&format!("/api/generate_name?Subscription-Key={KEY}"))).status,
        401
    );
}

#[test]
fn direct_calls_to_the_component_are_refused() {
    let (host, _gw) = stack();
    for path in ["/generate_name", "/docs", "/openapi.json", "/", "/nope"] {
        assert_eq!(get(&host.url(path)).status, 401, "{path}");
        assert_eq!(
            send(
                "GET",
                &host.url(path),
                &[("Ocp-Apim-Subscription-Key", KEY)]
            )
            .status,
            401,
            "{path}"
        );
        assert_eq!(
            send("GET", &host.url(path), &[("x-backend-key", KEY)]).status,
            401,
            "{path}"
        );
    }
}

#[test]
fn path_tricks_reach_nothing_they_should_not() {
    let (_host, gw) = stack();
    for (path, expect) in [
        ("//api/generate_name", "404"),
        ("/api/../public/docs", "404"),
        ("/public/../api/generate_name", "404"),
        ("/public/docs/../../api/generate_name", "404"),
        ("/api%2Fgenerate_name", "404"),
        ("/api/generate_name%2F..%2F..%2Fpublic%2Fdocs", "404"),
        ("/public/docs/..%2F..%2Fapi%2Fgenerate_name", "404"),
        ("/public/docs/%2e%2e/%2e%2e/api/generate_name", "404"),
        ("/API/generate_name", "404"),
        ("/public/docs/..\\..\\api\\generate_name", "404"),
    ] {
        let response = raw(
            &gw.base,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(
            status_line(&response).contains(expect),
            "{path}: {response}"
        );
        assert!(
            !response.contains("\"name\""),
            "{path} produced a name without a key"
        );
    }
}

#[test]
fn oversized_requests_are_refused_with_4xx_not_5xx_or_hangs() {
    let (host, gw) = stack();
    for base in [&gw.base, &host.base] {
        let long_url = format!("/api/generate_name?starts_with={}", "a".repeat(100_000));
        let response = raw(
            base,
            format!("GET {long_url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let status = status_line(&response);
        assert!(
            status.is_empty() || status.contains(" 4"),
            "{base} long URL: {status}"
        );
        let long_header = format!(
            "GET /api/generate_name HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
            "p".repeat(200_000)
        );
        let status = raw(base, long_header.as_bytes());
        let status = status_line(&status);
        assert!(
            status.is_empty() || status.contains(" 4"),
            "{base} long header: {status}"
        );
    }
    // Long but reasonable requests still work: an 8 KB header, a 3 KB query.
    let reply = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[
            ("Ocp-Apim-Subscription-Key", KEY),
            ("X-Pad", &"p".repeat(8_000)),
        ],
    );
    assert_eq!(reply.status, 200);
    let reply = send(
        "GET",
        &gw.url(&format!(
            "/api/generate_name?starts_with={}",
            "%C3%A9".repeat(500)
        )),
        &[("Ocp-Apim-Subscription-Key", KEY)],
    );
    assert_eq!(reply.status, 422);
}

#[test]
fn slow_clients_are_cut_off() {
    let host = Host::start(&[]);
    let gw = Emulator::start_with_env(
        &host.base,
        &[KEY],
        &[("backend-key", BACKEND_KEY)],
        &[("APIM_EMULATOR_HEADER_READ_TIMEOUT", "2")],
    );
    let mut stream = TcpStream::connect(gw.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /api/generate_name HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(8),
        "cut after {waited:?}"
    );
    // Others are served meanwhile.
    assert_eq!(
        send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", KEY)]
        )
        .status,
        200
    );
}

#[test]
fn faults_behind_the_gateway_are_apim_500s_within_the_timeout() {
    // Slow backend: 3 s per answer, timeout 1 s.
    let slow = RecordingBackend::start(Duration::from_secs(3));
    let gw = Emulator::start(
        &slow.base,
        &[KEY],
        &[("backend-key", BACKEND_KEY), ("backend-timeout", "1")],
    );
    let started = Instant::now();
    let reply = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Ocp-Apim-Subscription-Key", KEY)],
    );
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["message"], "Internal server error");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "answered after {:?}",
        started.elapsed()
    );

    // Garbage instead of HTTP.
    let gw = Emulator::start(
        &common::garbage_backend(),
        &[KEY],
        &[("backend-key", BACKEND_KEY)],
    );
    let reply = send(
        "GET",
        &gw.url("/api/generate_name"),
        &[("Ocp-Apim-Subscription-Key", KEY)],
    );
    assert_eq!(reply.status, 500);
    assert!(!reply.text().contains("garbage") && !reply.text().contains(BACKEND_KEY));
}

#[test]
fn the_component_restarts_cleanly_and_the_gateway_recovers() {
    let mut host = Host::start(&[("backend_key", BACKEND_KEY)]);
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    let gw = Emulator::start(&host.base, &[KEY], &[("backend-key", BACKEND_KEY)]);
    let call = || {
        send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", KEY)],
        )
        .status
    };
    assert_eq!(call(), 200);
    host.stop();
    assert_eq!(call(), 500, "backend down: APIM-style 500");
    let _restarted = Host::start_on(port, &[("backend_key", BACKEND_KEY)]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while call() != 200 {
        assert!(Instant::now() < deadline, "gateway did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = gw.log_text();
    for secret in [KEY, BACKEND_KEY, DOCS_BACKEND_KEY] {
        assert!(!log.contains(secret), "secret in the emulator log");
    }
}

/// Least privilege at the component (SPEC section 4, issue 9 item 4): on the real host,
/// each credential (current and next, of each API) on each kind of path, including dot
/// segments and encoded separators sent raw so no client normalises them. The docs
/// credential never reaches a name, whatever the path spells.
#[test]
fn each_credential_reaches_only_its_routes_at_the_component() {
    const API: &str = "security-api-credential-a1b2c3";
    const API_NEXT: &str = "security-api-credential-next-d4e5f6";
    const DOCS: &str = "security-docs-credential-0a9b8c";
    const DOCS_NEXT: &str = "security-docs-credential-next-7d6e5f";
    let host = Host::start(&[
        ("backend_key", API),
        ("backend_key_next", API_NEXT),
        ("docs_backend_key", DOCS),
        ("docs_backend_key_next", DOCS_NEXT),
        ("require_backend_key", "true"),
    ]);
    // (path, status with an api credential, status with a docs credential)
    let table = [
        ("/generate_name", "200 OK", "401 Unauthorized"),
        ("/generate_name?starts_with=a", "200 OK", "401 Unauthorized"),
        ("/openapi.json", "200 OK", "200 OK"),
        ("/docs", "200 OK", "200 OK"),
        ("/docs/swagger-ui.css", "200 OK", "200 OK"),
        ("/docs/", "307 Temporary Redirect", "307 Temporary Redirect"),
        ("/", "307 Temporary Redirect", "307 Temporary Redirect"),
        ("/nope", "404 Not Found", "401 Unauthorized"),
        (
            "/docs/%2e%2e/generate_name",
            "404 Not Found",
            "404 Not Found",
        ),
        (
            "/docs/%2E%2E/generate_name",
            "404 Not Found",
            "404 Not Found",
        ),
        ("/docs/../generate_name", "404 Not Found", "404 Not Found"),
        ("/docs/./../generate_name", "404 Not Found", "404 Not Found"),
        ("/docs/..%2fgenerate_name", "404 Not Found", "404 Not Found"),
        (
            "/docs/%2e%2e%2fgenerate_name",
            "404 Not Found",
            "404 Not Found",
        ),
        (
            "/docs%2f..%2fgenerate_name",
            "404 Not Found",
            "401 Unauthorized",
        ),
        ("/docs/..\\generate_name", "404 Not Found", "404 Not Found"),
        (
            "/openapi.json/../generate_name",
            "404 Not Found",
            "401 Unauthorized",
        ),
        ("/./generate_name", "404 Not Found", "401 Unauthorized"),
        ("/generate%5Fname", "404 Not Found", "401 Unauthorized"),
    ];
    let request = |path: &str, key: Option<&str>| {
        let header = key
            .map(|k| format!("x-backend-key: {k}\r\n"))
            .unwrap_or_default();
        raw(
            &host.base,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    for (path, with_api, with_docs) in table {
        for (key, expected) in [
            (API, with_api),
            (API_NEXT, with_api),
            (DOCS, with_docs),
            (DOCS_NEXT, with_docs),
        ] {
            let response = request(path, Some(key));
            assert_eq!(
                status_line(&response),
                format!("HTTP/1.1 {expected}"),
                "{key} on {path}: {response}"
            );
            if key == DOCS || key == DOCS_NEXT {
                assert!(
                    !response.contains("\r\n\r\n{\"name\":"),
                    "{key} on {path} returned a name"
                );
            }
        }
        for key in [None, Some("wrong"), Some(&API[..API.len() - 1])] {
            let response = request(path, key);
            assert_eq!(
                status_line(&response),
                "HTTP/1.1 401 Unauthorized",
                "{key:?} on {path}"
            );
        }
    }
    // With a credential, a name is really served (the 200s above are names, not docs).
    let named = send(
        "GET",
        &host.url("/generate_name"),
        &[("x-backend-key", DOCS)],
    );
    assert_eq!(named.status, 401);
    let named = send(
        "GET",
        &host.url("/generate_name"),
        &[("x-backend-key", API_NEXT)],
    );
    assert!(named.json()["name"].is_string());
    let log = host.log_text();
    for secret in [API, API_NEXT, DOCS, DOCS_NEXT] {
        assert!(!log.contains(secret), "a credential in the host log");
    }
}

/// Production with one credential missing fails closed (503, reason logged by name) on
/// the routes that need it, and only there.
#[test]
fn production_fails_closed_per_scope_where_its_credential_is_empty() {
    let docs_only = Host::start(&[
        ("docs_backend_key", DOCS_BACKEND_KEY),
        ("require_backend_key", "true"),
    ]);
    let with_docs = |path: &str| {
        send(
            "GET",
            &docs_only.url(path),
            &[("x-backend-key", DOCS_BACKEND_KEY)],
        )
    };
    assert_eq!(with_docs("/docs").status, 200);
    assert_eq!(with_docs("/openapi.json").status, 200);
    let refused = with_docs("/generate_name");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["status"], 503);
    assert!(docs_only
        .log_text()
        .contains("require_backend_key is true but backend_key is empty"));

    let api_only = Host::start(&[
        ("backend_key", BACKEND_KEY),
        ("require_backend_key", "true"),
    ]);
    let with_api = |path: &str| {
        send(
            "GET",
            &api_only.url(path),
            &[("x-backend-key", BACKEND_KEY)],
        )
    };
    assert_eq!(with_api("/generate_name").status, 200);
    for path in ["/docs", "/openapi.json", "/"] {
        let reply = with_api(path);
        assert_eq!(reply.status, 503, "{path}");
        assert_eq!(reply.json()["status"], 503, "{path}");
    }
    assert!(api_only
        .log_text()
        .contains("require_backend_key is true but docs_backend_key is empty"));
}
