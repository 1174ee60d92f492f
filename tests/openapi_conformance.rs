//! The OpenAPI document against independent tools: `openapi-spec-validator` says it is
//! valid 3.0, and `schemathesis` (property-based, all checks) finds no difference between
//! the document and the running component. Tools come from `.venv/` (cargo xtask setup).

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use crate::common::{artifacts_dir, repo_root, Host};

fn venv_bin(tool: &str) -> PathBuf {
    let bin = std::env::var_os("NAME_API_VENV_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin"));
    let path = bin.join(tool);
    assert!(
        path.is_file(),
        "{} missing: run `cargo xtask test` (it creates .venv)",
        path.display()
    );
    path
}

fn run(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{log}");
    assert!(output.status.success(), "{cmd:?} failed:\n{log}");
    log
}

#[test]
fn document_is_valid_openapi_3_0() {
    let out = run(Command::new(venv_bin("openapi-spec-validator"))
        .args(["--schema", "3.0"])
        .arg(repo_root().join("static-docs/openapi.json")));
    assert!(out.contains("OK"), "{out}");
}

#[test]
fn document_served_for_the_gateway_is_valid_too() {
    let host = Host::start(&[("api_base", "/api")]);
    let served = artifacts_dir().join("openapi.gateway.json");
    std::fs::write(&served, common::get(&host.url("/openapi.json")).body).unwrap();
    run(Command::new(venv_bin("openapi-spec-validator"))
        .args(["--schema", "3.0"])
        .arg(&served));
}

/// Why `ignored_auth` is excluded here: the subscription key is the *gateway's* security
/// scheme, which this direct run bypasses on purpose; the gateway end-to-end run checks
/// it. The backend key, which the component does enforce, is configured and sent.
#[test]
fn running_component_conforms_to_the_document() {
    let key = "schemathesis-backend-key-0b8e2a";
    let host = Host::start(&[
        ("backend_key", key),
        ("docs_backend_key", "schemathesis-docs-backend-key-41c7"),
        ("require_backend_key", "true"),
    ]);
    let report = artifacts_dir().join("schemathesis");
    let out = run(Command::new(venv_bin("schemathesis"))
        .current_dir(repo_root())
        .env("NO_COLOR", "1")
        .args(["run", "static-docs/openapi.json", "--url", &host.base])
        .args(["--checks", "all", "--exclude-checks", "ignored_auth"])
        .args(["--header", &format!("x-backend-key: {key}")])
        .args([
            "--max-examples",
            "150",
            "--seed",
            "20261124",
            "--request-timeout",
            "10",
        ])
        .args(["--report", "junit", "--report-dir"])
        .arg(&report));
    assert!(!out.contains("FAILED"), "{out}");
    assert!(
        !host.log_text().contains(key),
        "backend key leaked into the host log"
    );
}

/// Through the gateway, every check runs, `ignored_auth` included (the document's
/// subscription-key schemes are enforced there), except `unsupported_method`: API
/// Management answers a method no operation declares with its own 404 ("Resource not
/// found"), before the request could reach the component's 405, and the emulator does
/// the same. The direct run above checks the component's 405 + `Allow`. The spec is the one
/// `/public/openapi.json` serves through the gateway, run against the `api` API.
#[test]
fn gateway_conforms_to_the_document_with_all_checks() {
    let backend_key = "schemathesis-gateway-backend-key-77c3";
    let subscription_key = "schemathesis-subscription-key-2b90";
    let host = Host::start(&[
        ("backend_key", backend_key),
        (
            "docs_backend_key",
            "schemathesis-gateway-docs-backend-key-e5a1",
        ),
        ("require_backend_key", "true"),
        ("api_base", "/api"),
    ]);
    let gw = common::Emulator::start(
        &host.base,
        &[subscription_key],
        &[("backend-key", backend_key), ("rate-limit-calls", "100000")],
    );
    // The document is fetched as a browser does, without a key: API Management refuses a
    // subscription key sent to the public API (401), so schemathesis, which sends its
    // headers with every request, reads the saved copy and targets the `api` API.
    let served = common::get(&gw.url("/public/openapi.json"));
    assert_eq!(
        served.status,
        200,
        "{}",
        String::from_utf8_lossy(&served.body)
    );
    let document = artifacts_dir().join("openapi.via-gateway.json");
    std::fs::write(&document, &served.body).unwrap();
    let report = artifacts_dir().join("schemathesis-gateway");
    let out = run(Command::new(venv_bin("schemathesis"))
        .current_dir(repo_root())
        .env("NO_COLOR", "1")
        .arg("run")
        .arg(&document)
        .args(["--url", &gw.url("/api")])
        .args(["--checks", "all", "--exclude-checks", "unsupported_method"])
        .args([
            "--header",
            &format!("Ocp-Apim-Subscription-Key: {subscription_key}"),
        ])
        .args([
            "--max-examples",
            "100",
            "--seed",
            "20261124",
            "--request-timeout",
            "10",
        ])
        .args(["--report", "junit", "--report-dir"])
        .arg(&report));
    assert!(!out.contains("FAILED"), "{out}");
    assert!(out.contains("Base URL:") && out.contains("/api"), "{out}");
    let log = gw.log_text();
    for secret in [backend_key, subscription_key] {
        assert!(
            !log.contains(secret) && !host.log_text().contains(secret),
            "secret in a log"
        );
    }
}
