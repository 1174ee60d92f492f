//! Bypass attempts against the gateway and the component (docs/security.md), and fault
//! injection behind the gateway. Every row of that page's table is one assertion here.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{
    assert_not_logged, get, raw, send, status_line, Emulator, Host, RecordingBackend,
};
use crate::gateway::{INVALID, MISSING};

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

/// Fails if a key of this file appears in the host's or the emulator's log.
fn assert_no_key_logged(host: &Host, gw: &Emulator) {
    assert_not_logged(
        &[("host", host.log_text()), ("emulator", gw.log_text())],
        &[KEY, OTHER, BACKEND_KEY, DOCS_BACKEND_KEY],
    );
}

#[test]
fn subscription_key_variants() {
    let (host, gw) = stack();
    let api = gw.url("/api/generate_name");
    let with = |headers: &[(&str, &str)]| {
        let reply = send("GET", &api, headers);
        (reply.status, reply.text())
    };
    assert_eq!(with(&[]), (401, MISSING.to_owned()), "no key");
    for (key, why) in [
        ("nope", "wrong key"),
        (&KEY.to_uppercase()[..], "key in another case"),
        (&format!("{KEY}x")[..], "key with a suffix"),
    ] {
        assert_eq!(
            with(&[("Ocp-Apim-Subscription-Key", key)]),
            (401, INVALID.to_owned()),
            "{why}"
        );
    }
    assert_eq!(
        with(&[("OCP-APIM-SUBSCRIPTION-KEY", KEY)]).0,
        200,
        "header name in another case"
    );
    // Surrounding whitespace of a header value is not part of it (RFC 9110 5.5).
    let padded = raw(&gw.base, format!("GET /api/generate_name HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key:   {KEY}  \r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(status_line(&padded), "HTTP/1.1 200 OK", "{padded}");
    // Whitespace inside the query value is part of it.
    let spaced = get(&gw.url(&format!("/api/generate_name?subscription-key=%20{KEY}")));
    assert_eq!((spaced.status, spaced.text()), (401, INVALID.to_owned()));
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
    let header_wrong = send(
        "GET",
        &format!("{api}?subscription-key={KEY}"),
        &[("Ocp-Apim-Subscription-Key", "wrong")],
    );
    assert_eq!(
        (header_wrong.status, header_wrong.text()),
        (401, INVALID.to_owned())
    );
    // Two key headers, even both valid: refused.
    let twice = raw(
        &gw.base,
        format!("GET /api/generate_name HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {KEY}\r\nOcp-Apim-Subscription-Key: {OTHER}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status_line(&twice), "HTTP/1.1 401 Unauthorized", "{twice}");
    assert!(twice.ends_with(INVALID), "{twice}");
    // A key in another parameter name is no key.
    let renamed = get(&gw.url(&format!("/api/generate_name?Subscription-Key={KEY}")));
    assert_eq!((renamed.status, renamed.text()), (401, MISSING.to_owned()));
    assert_no_key_logged(&host, &gw);
}

#[test]
fn direct_calls_to_the_component_are_refused() {
    let (host, gw) = stack();
    for path in ["/generate_name", "/docs", "/openapi.json", "/", "/nope"] {
        for headers in [
            &[][..],
            &[("Ocp-Apim-Subscription-Key", KEY)],
            &[("x-backend-key", KEY)],
        ] {
            let reply = send("GET", &host.url(path), headers);
            assert_eq!(reply.status, 401, "{path} {headers:?}");
            assert_eq!(
                reply.header("content-type"),
                Some("application/problem+json"),
                "{path}"
            );
            let body = reply.json();
            assert_eq!(body["status"], 401, "{path}");
            assert_eq!(body["title"], "Unauthorized", "{path}");
        }
    }
    assert_no_key_logged(&host, &gw);
}

#[test]
fn path_tricks_reach_nothing_they_should_not() {
    let (host, gw) = stack();
    // The emulator refuses dot segments, encoded dots and separators and backslashes
    // before matching (a proxy behind it might resolve them); the rest match nothing.
    const DOTS: &str = "Invalid request path: dot segments are not accepted";
    const ENCODED: &str = "Invalid request path: encoded dots and separators are not accepted";
    for (path, expect, message) in [
        ("//api/generate_name", "404 Not Found", "Resource not found"),
        ("/api/../public/docs", "400 Bad Request", DOTS),
        ("/public/../api/generate_name", "400 Bad Request", DOTS),
        (
            "/public/docs/../../api/generate_name",
            "400 Bad Request",
            DOTS,
        ),
        ("/api%2Fgenerate_name", "400 Bad Request", ENCODED),
        (
            "/api/generate_name%2F..%2F..%2Fpublic%2Fdocs",
            "400 Bad Request",
            ENCODED,
        ),
        (
            "/public/docs/..%2F..%2Fapi%2Fgenerate_name",
            "400 Bad Request",
            ENCODED,
        ),
        (
            "/public/docs/%2e%2e/%2e%2e/api/generate_name",
            "400 Bad Request",
            ENCODED,
        ),
        ("/API/generate_name", "404 Not Found", "Resource not found"),
        (
            "/public/docs/..\\..\\api\\generate_name",
            "400 Bad Request",
            ENCODED,
        ),
    ] {
        let response = raw(
            &gw.base,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(
            status_line(&response),
            format!("HTTP/1.1 {expect}"),
            "{path}: {response}"
        );
        let status = &expect[..3];
        assert!(
            response.ends_with(&format!(
                r#"{{ "statusCode": {status}, "message": "{message}" }}"#
            )),
            "{path}: {response}"
        );
        assert!(
            !response.contains("\"name\""),
            "{path} produced a name without a key"
        );
    }
    assert_no_key_logged(&host, &gw);
}

#[test]
fn oversized_requests_get_exact_4xx_answers_not_5xx_or_hangs() {
    let (host, gw) = stack();
    let long_url = format!(
        "GET /api/generate_name?starts_with={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(100_000)
    );
    let long_header = format!(
        "GET /api/generate_name HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "p".repeat(200_000)
    );
    for (base, url_status, header_status) in [
        // The emulator reads at most 64 KiB of request head.
        (
            &gw.base,
            "HTTP/1.1 414 URI Too Long",
            "HTTP/1.1 431 Request Header Fields Too Large",
        ),
        // wasmtime serve (hyper) refuses a URI over 64 KiB but reads heads up to about
        // 400 KB, so the padded request reaches the component, which wants its key.
        (
            &host.base,
            "HTTP/1.1 414 URI Too Long",
            "HTTP/1.1 401 Unauthorized",
        ),
    ] {
        let response = raw(base, long_url.as_bytes());
        assert_eq!(status_line(&response), url_status, "{base} long URL");
        let response = raw(base, long_header.as_bytes());
        assert_eq!(status_line(&response), header_status, "{base} long header");
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
    assert_no_key_logged(&host, &gw);
}

/// Slow clients: each must be cut after the header-read timeout, and while they hold
/// their connections open, a keyed request is served at normal speed.
#[test]
fn slow_clients_are_cut_off_and_others_are_served_meanwhile() {
    const TIMEOUT_SECS: u64 = 3;
    const SLOW_CLIENTS: usize = 8;
    let host = Host::start(&[("backend_key", BACKEND_KEY)]);
    let gw = Emulator::start_with_env(
        &host.base,
        &[KEY],
        &[("backend-key", BACKEND_KEY)],
        &[(
            "APIM_EMULATOR_HEADER_READ_TIMEOUT",
            &TIMEOUT_SECS.to_string(),
        )],
    );
    let keyed = || {
        let started = Instant::now();
        let status = send(
            "GET",
            &gw.url("/api/generate_name"),
            &[("Ocp-Apim-Subscription-Key", KEY)],
        )
        .status;
        (status, started.elapsed())
    };
    assert_eq!(keyed().0, 200, "warm-up");
    let opened = Instant::now();
    let mut slow: Vec<TcpStream> = (0..SLOW_CLIENTS)
        .map(|_| {
            let mut stream = TcpStream::connect(gw.base.trim_start_matches("http://")).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream
                .write_all(b"GET /api/generate_name HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    // Sent while every slow connection is open (they are cut at TIMEOUT_SECS at the
    // earliest): a gateway blocked by them would answer only after they are cut.
    let (status, latency) = keyed();
    assert!(
        opened.elapsed() < Duration::from_secs(TIMEOUT_SECS),
        "the keyed request ended after the slow clients could have been cut ({:?})",
        opened.elapsed()
    );
    assert_eq!(status, 200);
    assert!(
        latency < Duration::from_secs(1),
        "served in {latency:?} beside {SLOW_CLIENTS} slow clients"
    );
    for stream in &mut slow {
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf);
        let waited = opened.elapsed();
        assert!(
            waited >= Duration::from_millis(TIMEOUT_SECS * 1000 - 500)
                && waited < Duration::from_secs(TIMEOUT_SECS + 5),
            "cut after {waited:?}"
        );
    }
    assert_no_key_logged(&host, &gw);
}

#[test]
fn faults_behind_the_gateway_are_apim_500s_within_the_timeout() {
    // Slow backend: 3 s per answer, timeout 1 s.
    let slow = RecordingBackend::start(Duration::from_secs(3));
    let slow_gw = Emulator::start(
        &slow.base,
        &[KEY],
        &[("backend-key", BACKEND_KEY), ("backend-timeout", "1")],
    );
    let started = Instant::now();
    let reply = send(
        "GET",
        &slow_gw.url("/api/generate_name"),
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
    let garbage_gw = Emulator::start(
        &common::garbage_backend(),
        &[KEY],
        &[("backend-key", BACKEND_KEY)],
    );
    let reply = send(
        "GET",
        &garbage_gw.url("/api/generate_name"),
        &[("Ocp-Apim-Subscription-Key", KEY)],
    );
    assert_eq!(reply.status, 500);
    assert!(!reply.text().contains("garbage") && !reply.text().contains(BACKEND_KEY));
    assert_not_logged(
        &[
            ("slow backend's emulator", slow_gw.log_text()),
            ("garbage backend's emulator", garbage_gw.log_text()),
        ],
        &[KEY, BACKEND_KEY],
    );
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
    let restarted = Host::start_on(port, &[("backend_key", BACKEND_KEY)]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while call() != 200 {
        assert!(Instant::now() < deadline, "gateway did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_not_logged(
        &[
            ("first host", host.log_text()),
            ("restarted host", restarted.log_text()),
            ("emulator", gw.log_text()),
        ],
        &[KEY, BACKEND_KEY],
    );
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
    assert_not_logged(
        &[("host", host.log_text())],
        &[API, API_NEXT, DOCS, DOCS_NEXT],
    );
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
    assert_not_logged(
        &[
            ("docs-only host", docs_only.log_text()),
            ("api-only host", api_only.log_text()),
        ],
        &[BACKEND_KEY, DOCS_BACKEND_KEY],
    );
}
