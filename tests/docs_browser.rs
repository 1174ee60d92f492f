//! The docs in a real headless Chromium (Debian's, driven by playwright-core from
//! `tests/browser/docs.mjs`): the page loads its assets and the spec by relative URLs,
//! "Authorize" takes a subscription key, "Try it out" returns a name. Screenshots are
//! saved in `tests/artifacts/`.

use std::process::Command;

use crate::common::{artifacts_dir, assert_not_logged, repo_root, Emulator, Host};

fn run_docs_script(url: &str, screenshot: &str, extra: &[&str]) {
    let shot = artifacts_dir().join(screenshot);
    let _ = std::fs::remove_file(&shot);
    let output = Command::new("node")
        .arg(repo_root().join("tests/browser/docs.mjs"))
        .args(["--url", url, "--screenshot"])
        .arg(&shot)
        .args(extra)
        .output()
        .expect("node is required (cargo xtask test installs it)");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{log}");
    assert!(output.status.success(), "browser test failed:\n{log}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot looks empty"
    );
}

#[test]
fn docs_try_it_out_returns_a_name_in_a_real_browser() {
    let host = Host::start(&[]);
    let key = "browser-test-subscription-key";
    run_docs_script(
        &host.url("/docs"),
        "docs-direct.png",
        &["--key", key, "--starts-with", "Ñ"],
    );
    assert_not_logged(&[("host", host.log_text())], &[key]);
}

#[test]
fn docs_show_an_unmatched_filter_as_a_404_problem() {
    let host = Host::start(&[]);
    // Swagger UI validates the pattern client-side; a valid-looking but unmatched value
    // reaches the component and shows the problem body.
    run_docs_script(
        &host.url("/docs"),
        "docs-direct-404.png",
        &["--starts-with", "Xyzzy", "--expect-status", "404"],
    );
}

const GATEWAY_KEY: &str = "browser-subscription-key-5a2e";
const BACKEND_KEY: &str = "browser-gateway-backend-key-1d9c";
const DOCS_BACKEND_KEY: &str = "browser-gateway-docs-backend-key-93fe";

/// The production shape: component requiring its backend key, emulator in front.
fn gateway() -> (Host, Emulator) {
    let host = Host::start(&[
        ("backend_key", BACKEND_KEY),
        ("docs_backend_key", DOCS_BACKEND_KEY),
        ("require_backend_key", "true"),
        ("api_base", "/api"),
    ]);
    let gw = Emulator::start(&host.base, &[GATEWAY_KEY], &[("backend-key", BACKEND_KEY)]);
    (host, gw)
}

/// Fails if a key appears in the host's or the emulator's log.
fn assert_no_key_logged(host: &Host, gw: &Emulator) {
    assert_not_logged(
        &[("host", host.log_text()), ("emulator", gw.log_text())],
        &[GATEWAY_KEY, BACKEND_KEY, DOCS_BACKEND_KEY],
    );
}

#[test]
fn docs_through_the_gateway_authorize_then_try_it_out() {
    let (host, gw) = gateway();
    run_docs_script(
        &gw.url("/public/docs"),
        "docs-gateway-authorized.png",
        &[
            "--key",
            GATEWAY_KEY,
            "--expect-url-prefix",
            &gw.url("/api/generate_name"),
        ],
    );
    let log = gw.log_text();
    assert!(
        log.contains("GET /public/openapi.json -> 200"),
        "spec loaded through the gateway:\n{log}"
    );
    assert!(
        log.contains(
            "GET /api/generate_name -> 200 api=name-api op=generate_name sub=local(primary)"
        ),
        "{log}"
    );
    assert_no_key_logged(&host, &gw);
}

#[test]
fn docs_through_the_gateway_without_a_key_show_401() {
    let (host, gw) = gateway();
    run_docs_script(
        &gw.url("/public/docs"),
        "docs-gateway-no-key.png",
        &["--expect-status", "401"],
    );
    assert_no_key_logged(&host, &gw);
}
