//! `cargo xtask verify --gateway URL`: one black-box suite of the gateway contract
//! (docs/gateway.md), run unchanged against the local emulator (by `cargo xtask test`) and
//! against a deployed API Management (by `infra/hooks/postdeploy.sh`, or by hand after
//! `azd up`).
//!
//! Each check is either a *contract* check, which fails the run when the gateway differs
//! from what Microsoft documents (or from this project's policies), or an *observation*,
//! where Microsoft's documentation is silent: the suite records what the gateway did, so
//! one run against Azure settles what the emulator can only assume. The rate-limit check
//! uses up the subscription's calls for a renewal period, so it runs only with
//! `--rate-limit`. It prints a table and writes a JSON report; no key is printed or
//! written (requests show `<key>`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use apim_emulator::responses::messages;
use clap::Args;
use local_stack::{Credentials, HostProgram, Output, Stack, StackOptions};
use name_api::contract::{
    BACKEND_KEY_HEADER, GENERATE_NAME_PATH, RATE_LIMIT_LIMIT_HEADER, RATE_LIMIT_MAX_RENEWAL_SECS,
    RATE_LIMIT_REMAINING_HEADER, SUBSCRIPTION_KEY_HEADER, SUBSCRIPTION_KEY_QUERY,
};
use serde_json::{json, Value};
use ureq::http;

use crate::paths::root;
use crate::procs::cargo;
use crate::{artifacts, setup};

#[derive(Args)]
pub struct VerifyArgs {
    /// Base URL of the gateway: `https://<name>.azure-api.net`, or `http://127.0.0.1:8080`.
    #[arg(long, required_unless_present = "local", conflicts_with = "local")]
    pub gateway: Option<String>,
    /// A subscription key of the `api` API. Prefer the environment variable: command-line
    /// arguments are visible to other users of the machine.
    #[arg(
        long,
        env = "APIM_SUBSCRIPTION_KEY",
        hide_env_values = true,
        required_unless_present = "local"
    )]
    pub key: Option<String>,
    /// The subscription's other key, to check that both keys work.
    #[arg(long, env = "APIM_SUBSCRIPTION_KEY_SECONDARY", hide_env_values = true)]
    pub key2: Option<String>,
    /// Also call until the rate limit answers 429 (uses up the subscription's calls for one
    /// renewal period).
    #[arg(long)]
    pub rate_limit: bool,
    /// Most calls the rate-limit check makes before it gives up.
    #[arg(long, default_value_t = 400)]
    pub rate_limit_max_calls: u32,
    /// Origin sent by the CORS checks.
    #[arg(long, default_value = "https://verify.example")]
    pub origin: String,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/verify-report.json")]
    pub report: PathBuf,
    /// Build and start the local stack (the component on wasmtime serve, the emulator in
    /// front with two keys and a 40-call rate limit) and run every check against it.
    #[arg(long)]
    pub local: bool,
}

/// `cargo xtask verify`: against `--gateway`, or with `--local` against a stack it starts.
pub fn run(args: VerifyArgs) -> Result<()> {
    if !args.local {
        return verify(args);
    }
    let wasmtime =
        setup::find_wasmtime().context("wasmtime is required: run `cargo xtask setup`")?;
    let built = artifacts::build(true)?;
    crate::run(cargo().args(["build", "--package", "apim-emulator"]))?;
    against_local_stack(
        &wasmtime,
        &built.composed,
        &root().join("target/debug/apim-emulator"),
        args.report,
    )
}

/// What a check concluded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    /// Documentation is silent: what the gateway did, recorded.
    Observed,
    Skipped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Observed => "OBSERVED",
            Outcome::Skipped => "SKIPPED",
        }
    }
}

/// One row of the table and of the report.
struct Row {
    id: &'static str,
    request: String,
    expected: String,
    observed: String,
    outcome: Outcome,
    reference: &'static str,
}

/// A gateway answer, read whole.
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// `status` plus the gist of the body, for the table.
    fn summary(&self) -> String {
        let gist = match self.json() {
            Some(Value::Object(map)) if map.contains_key("message") => {
                format!(" {}", map["message"])
            }
            Some(Value::Object(map)) if map.contains_key("name") => " {name}".to_owned(),
            Some(Value::Object(map)) if map.contains_key("title") => {
                format!(" problem {}", map["title"])
            }
            _ if self.body.is_empty() => " (empty body)".to_owned(),
            _ => format!(
                " {} ({} bytes)",
                self.header("content-type").unwrap_or("no content-type"),
                self.body.len()
            ),
        };
        format!("{}{gist}", self.status)
    }

    /// A `200` carrying a drawn name: what no request without a key may ever get.
    fn is_a_name(&self) -> bool {
        self.status == 200 && self.json().is_some_and(|v| v["name"].is_string())
    }
}

/// Sends requests to the gateway; holds the keys so that rows never contain them.
struct Client {
    agent: ureq::Agent,
    base: String,
    key: String,
}

/// How a request carries the subscription key.
#[derive(Clone, Copy)]
enum Key<'a> {
    None,
    Header(&'a str),
    Query(&'a str),
}

impl Client {
    fn new(base: &str, key: &str) -> Client {
        let loopback = base.contains("://127.0.0.1") || base.contains("://localhost");
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .allow_non_standard_methods(true)
            .timeout_global(Some(Duration::from_secs(30)));
        if loopback {
            config = config.proxy(None);
        }
        Client {
            agent: config.build().into(),
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        }
    }

    /// `method path` with `headers` (a `None` value sends the subscription key header with
    /// this client's key, so rows can name it `<key>`).
    fn send(
        &self,
        method: &str,
        path: &str,
        key: Key,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let url = match key {
            Key::Query(value) => {
                let separator = if path.contains('?') { '&' } else { '?' };
                format!(
                    "{}{path}{separator}{SUBSCRIPTION_KEY_QUERY}={value}",
                    self.base
                )
            }
            _ => format!("{}{path}", self.base),
        };
        let mut request = http::Request::builder().method(method).uri(&url);
        if let Key::Header(value) = key {
            request = request.header(SUBSCRIPTION_KEY_HEADER, value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(())
            .map_err(|e| format!("the client cannot send this request: {e}"))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .map_err(|e| format!("body not read: {e}"))?;
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Microsoft Learn pages the checks follow.
const SUBSCRIPTIONS_DOC: &str =
    "Microsoft Learn: Subscriptions in Azure API Management (how requests with or without keys are handled)";
const RATE_LIMIT_DOC: &str = "Microsoft Learn: Limit call rate by subscription (rate-limit policy)";
const CORS_DOC: &str = "Microsoft Learn: CORS policy";
const PROJECT_POLICY: &str = "infra/apim (this project's declarations and policies)";
const SILENT: &str = "not documented by Microsoft: recorded";

fn verify(args: VerifyArgs) -> Result<()> {
    let started = Instant::now();
    let gateway = args.gateway.clone().context("--gateway is required")?;
    let key = args
        .key
        .clone()
        .context("a subscription key is required (--key or APIM_SUBSCRIPTION_KEY)")?;
    let client = Client::new(&gateway, &key);
    let mut rows = Vec::new();
    contract_checks(&client, &args, &mut rows);
    observations(&client, &args, &mut rows);
    if args.rate_limit {
        rate_limit_check(&client, &args, &mut rows);
    } else {
        rows.push(Row {
            id: "rate-limit-429",
            request: "GET /api/generate_name until 429".into(),
            expected: "429, Retry-After, APIM's body".into(),
            observed: "not run (use --rate-limit; it uses up the subscription's calls)".into(),
            outcome: Outcome::Skipped,
            reference: RATE_LIMIT_DOC,
        });
    }
    // No key in the output, whatever an error message or a body echoed.
    let secrets: Vec<&str> = std::iter::once(key.as_str())
        .chain(args.key2.as_deref())
        .filter(|s| !s.is_empty())
        .collect();
    for row in &mut rows {
        for secret in &secrets {
            row.request = row.request.replace(secret, "<key>");
            row.observed = row.observed.replace(secret, "<key>");
        }
    }
    print_table(&gateway, &rows);
    write_report(&args, &rows, started.elapsed())?;
    let failed = rows.iter().filter(|r| r.outcome == Outcome::Fail).count();
    if failed > 0 {
        bail!("{failed} contract check(s) failed against {gateway}");
    }
    Ok(())
}

fn api(path: &str) -> String {
    format!("/api{path}")
}

fn gateway_body(status: u16, message: &str) -> Value {
    json!({ "statusCode": status, "message": message })
}

/// A contract row: `check` turns the reply into `Ok(observed)` or `Err(observed)`.
#[allow(clippy::too_many_arguments)]
fn contract(
    rows: &mut Vec<Row>,
    id: &'static str,
    request: &str,
    expected: &str,
    reference: &'static str,
    reply: Result<Reply, String>,
    check: impl FnOnce(&Reply) -> Result<String, String>,
) {
    let (outcome, observed) = match reply {
        Err(error) => (Outcome::Fail, error),
        Ok(reply) => match check(&reply) {
            Ok(observed) => (Outcome::Pass, observed),
            Err(observed) => (Outcome::Fail, observed),
        },
    };
    rows.push(Row {
        id,
        request: request.to_owned(),
        expected: expected.to_owned(),
        observed,
        outcome,
        reference,
    });
}

/// `Ok` when the reply has `status` and exactly APIM's JSON body for it.
fn apim_error(reply: &Reply, status: u16, message: &str) -> Result<String, String> {
    if reply.status == status && reply.json() == Some(gateway_body(status, message)) {
        Ok(reply.summary())
    } else {
        Err(format!("{} {}", reply.summary(), short(&reply.body)))
    }
}

fn short(text: &str) -> String {
    let text: String = text.chars().take(160).collect();
    text.replace('\n', " ")
}

fn contract_checks(client: &Client, args: &VerifyArgs, rows: &mut Vec<Row>) {
    let key = client.key.as_str();
    let generate = api(GENERATE_NAME_PATH);
    let name_200 = |reply: &Reply| {
        if reply.is_a_name() {
            Ok(reply.summary())
        } else {
            Err(format!("{} {}", reply.summary(), short(&reply.body)))
        }
    };

    let reply = client.send("GET", "/public/docs", Key::None, &[]);
    contract(
        rows,
        "public-docs",
        "GET /public/docs (no key)",
        "200 text/html",
        PROJECT_POLICY,
        reply,
        |r| {
            let html = r
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/html"));
            if r.status == 200 && html {
                Ok(r.summary())
            } else {
                Err(r.summary())
            }
        },
    );
    let reply = client.send("GET", "/public/docs/swagger-ui.css", Key::None, &[]);
    contract(
        rows,
        "public-docs-asset",
        "GET /public/docs/swagger-ui.css (no key)",
        "200 text/css",
        PROJECT_POLICY,
        reply,
        |r| {
            let css = r
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/css"));
            if r.status == 200 && css {
                Ok(r.summary())
            } else {
                Err(r.summary())
            }
        },
    );
    let reply = client.send("GET", "/public/openapi.json", Key::None, &[]);
    contract(
        rows,
        "public-openapi",
        "GET /public/openapi.json (no key)",
        "200, OpenAPI 3.0.3, servers[0].url /api",
        PROJECT_POLICY,
        reply,
        |r| {
            let doc = r.json().unwrap_or_default();
            if r.status == 200 && doc["openapi"] == "3.0.3" && doc["servers"][0]["url"] == "/api" {
                Ok(format!(
                    "200 openapi {} servers {}",
                    doc["openapi"], doc["servers"][0]["url"]
                ))
            } else {
                Err(format!("{} servers {}", r.summary(), doc["servers"]))
            }
        },
    );

    let reply = client.send("GET", &generate, Key::None, &[]);
    contract(
        rows,
        "no-key",
        "GET /api/generate_name (no key)",
        "401, APIM's missing-key body",
        SUBSCRIPTIONS_DOC,
        reply,
        |r| apim_error(r, 401, messages::MISSING_KEY),
    );
    let wrong = format!("{key}-not-this-one");
    let reply = client.send("GET", &generate, Key::Header(&wrong), &[]);
    contract(
        rows,
        "wrong-key-header",
        "GET /api/generate_name, header <wrong key>",
        "401, APIM's invalid-key body",
        SUBSCRIPTIONS_DOC,
        reply,
        |r| apim_error(r, 401, messages::INVALID_KEY),
    );
    let reply = client.send("GET", &generate, Key::Query(&wrong), &[]);
    contract(
        rows,
        "wrong-key-query",
        "GET /api/generate_name?subscription-key=<wrong key>",
        "401, APIM's invalid-key body",
        SUBSCRIPTIONS_DOC,
        reply,
        |r| apim_error(r, 401, messages::INVALID_KEY),
    );

    let reply = client.send("GET", &generate, Key::Header(key), &[]);
    let headers_reply = reply.as_ref().ok().map(|r| (r.status, r.headers.clone()));
    contract(
        rows,
        "key-header",
        "GET /api/generate_name, header <key>",
        "200 {\"name\": ...}",
        SUBSCRIPTIONS_DOC,
        reply,
        name_200,
    );
    let reply = client.send("GET", &generate, Key::Query(key), &[]);
    contract(
        rows,
        "key-query",
        "GET /api/generate_name?subscription-key=<key>",
        "200 {\"name\": ...}",
        SUBSCRIPTIONS_DOC,
        reply,
        name_200,
    );
    match &args.key2 {
        Some(key2) => {
            let reply = client.send("GET", &generate, Key::Header(key2), &[]);
            contract(
                rows,
                "second-key",
                "GET /api/generate_name, header <second key>",
                "200 {\"name\": ...}",
                SUBSCRIPTIONS_DOC,
                reply,
                name_200,
            );
        }
        None => rows.push(Row {
            id: "second-key",
            request: "GET /api/generate_name, header <second key>".into(),
            expected: "200 {\"name\": ...}".into(),
            observed: "not run (no --key2 / APIM_SUBSCRIPTION_KEY_SECONDARY)".into(),
            outcome: Outcome::Skipped,
            reference: SUBSCRIPTIONS_DOC,
        }),
    }

    // The rate-limit policy's headers (`total-calls-header-name`, `remaining-calls-header-name`).
    let (outcome, observed) = match headers_reply {
        Some((200, headers)) => {
            let number = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            let limit = number(RATE_LIMIT_LIMIT_HEADER);
            let remaining = number(RATE_LIMIT_REMAINING_HEADER);
            let observed = format!(
                "{RATE_LIMIT_LIMIT_HEADER}: {limit:?}, {RATE_LIMIT_REMAINING_HEADER}: {remaining:?}"
            );
            match (limit, remaining) {
                (Some(limit), Some(remaining)) if remaining <= limit => (Outcome::Pass, observed),
                _ => (Outcome::Fail, observed),
            }
        }
        _ => (Outcome::Fail, "no 200 to read them from".to_owned()),
    };
    rows.push(Row {
        id: "rate-limit-headers",
        request: "the 200 of key-header".into(),
        expected: format!(
            "{RATE_LIMIT_LIMIT_HEADER} and {RATE_LIMIT_REMAINING_HEADER}, integers, remaining <= limit"
        ),
        observed,
        outcome,
        reference: RATE_LIMIT_DOC,
    });

    let reply = client.send(
        "GET",
        &format!("{generate}?starts_with=N"),
        Key::Header(key),
        &[],
    );
    contract(
        rows,
        "query-forwarded",
        "GET /api/generate_name?starts_with=N, header <key>",
        "200, a name starting with n",
        PROJECT_POLICY,
        reply,
        |r| match r.json() {
            Some(v)
                if r.status == 200
                    && v["name"]
                        .as_str()
                        .is_some_and(|n| n.to_lowercase().starts_with('n')) =>
            {
                Ok(format!("200 {}", v["name"]))
            }
            _ => Err(format!("{} {}", r.summary(), short(&r.body))),
        },
    );
    let reply = client.send(
        "GET",
        &format!("{generate}?starts_with=N1"),
        Key::Header(key),
        &[],
    );
    contract(
        rows,
        "component-422",
        "GET /api/generate_name?starts_with=N1, header <key>",
        "422 problem, rule pattern",
        PROJECT_POLICY,
        reply,
        |r| {
            let rule = r.json().map(|v| v["invalid_params"][0]["rule"].clone());
            if r.status == 422 && rule == Some(json!("pattern")) {
                Ok(r.summary())
            } else {
                Err(format!("{} {}", r.summary(), short(&r.body)))
            }
        },
    );

    let reply = client.send("GET", "/public/openapi.json", Key::Header(key), &[]);
    contract(
        rows,
        "key-to-public-api",
        "GET /public/openapi.json, header <key> (an API in no product)",
        "401 (the subscriptions doc's summary table)",
        SUBSCRIPTIONS_DOC,
        reply,
        |r| {
            if r.status == 401 && r.json().is_some_and(|v| v["statusCode"] == 401) {
                Ok(r.summary())
            } else {
                Err(r.summary())
            }
        },
    );

    let reply = client.send("GET", "/api/no_such_operation", Key::Header(key), &[]);
    contract(
        rows,
        "no-operation",
        "GET /api/no_such_operation, header <key>",
        "404 {statusCode, \"Resource not found\"}",
        PROJECT_POLICY,
        reply,
        |r| apim_error(r, 404, messages::NOT_FOUND),
    );
    let reply = client.send("GET", "/no_such_api/generate_name", Key::Header(key), &[]);
    contract(
        rows,
        "no-api",
        "GET /no_such_api/generate_name, header <key>",
        "404 {statusCode, \"Resource not found\"}",
        PROJECT_POLICY,
        reply,
        |r| apim_error(r, 404, messages::NOT_FOUND),
    );
    let reply = client.send("DELETE", &generate, Key::Header(key), &[]);
    contract(
        rows,
        "undeclared-method",
        "DELETE /api/generate_name, header <key>",
        "404 {statusCode, \"Resource not found\"}",
        PROJECT_POLICY,
        reply,
        |r| apim_error(r, 404, messages::NOT_FOUND),
    );

    let origin = args.origin.as_str();
    let reply = client.send(
        "OPTIONS",
        &generate,
        Key::None,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "GET"),
            (
                "Access-Control-Request-Headers",
                "ocp-apim-subscription-key",
            ),
        ],
    );
    contract(
        rows,
        "cors-preflight",
        "OPTIONS /api/generate_name, Origin, request GET + ocp-apim-subscription-key",
        "200, allows the origin, GET and the key header (cors policy)",
        CORS_DOC,
        reply,
        |r| {
            let allows = |name: &str, wanted: &str| {
                r.header(name)
                    .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(wanted)))
            };
            let origin_ok = r
                .header("access-control-allow-origin")
                .is_some_and(|v| v == "*" || v == origin);
            let observed = format!(
                "{} allow-origin {:?} methods {:?} headers {:?}",
                r.status,
                r.header("access-control-allow-origin"),
                r.header("access-control-allow-methods"),
                r.header("access-control-allow-headers")
            );
            if r.status == 200
                && origin_ok
                && allows("access-control-allow-methods", "GET")
                && allows("access-control-allow-headers", SUBSCRIPTION_KEY_HEADER)
            {
                Ok(observed)
            } else {
                Err(observed)
            }
        },
    );
    let reply = client.send("GET", &generate, Key::Header(key), &[("Origin", origin)]);
    contract(
        rows,
        "cors-response",
        "GET /api/generate_name, header <key>, Origin",
        "200 with Access-Control-Allow-Origin, Retry-After exposed",
        CORS_DOC,
        reply,
        |r| {
            let origin_ok = r
                .header("access-control-allow-origin")
                .is_some_and(|v| v == "*" || v == origin);
            let exposed = r
                .header("access-control-expose-headers")
                .is_some_and(|v| v.to_ascii_lowercase().contains("retry-after"));
            let observed = format!(
                "{} allow-origin {:?} expose {:?}",
                r.status,
                r.header("access-control-allow-origin"),
                r.header("access-control-expose-headers")
            );
            if r.status == 200 && origin_ok && exposed {
                Ok(observed)
            } else {
                Err(observed)
            }
        },
    );

    // Dot segments and encoded separators: whatever the gateway does with them (refuse,
    // normalise, or match nothing), a request without a key must never reach a name.
    for (id, path) in PATH_TRICKS {
        let reply = client.send("GET", path, Key::None, &[]);
        let (outcome, observed) = match reply {
            Err(error) => (Outcome::Skipped, error),
            Ok(r) if r.is_a_name() => (
                Outcome::Fail,
                format!("{} (a name without a key)", r.summary()),
            ),
            Ok(r) => (Outcome::Pass, r.summary()),
        };
        rows.push(Row {
            id,
            request: format!("GET {path} (no key, sent as is)"),
            expected: "no name without a key (refused or normalised; the status is an observation)"
                .into(),
            observed,
            outcome,
            reference: "docs/gateway.md: dot segments or encoded separators never widen access",
        });
    }
}

/// Paths that try to reach a name through the keyless `public` API.
const PATH_TRICKS: [(&str, &str); 9] = [
    // The docs API's own credential must not reach the component's /generate_name.
    ("path-docs-credential-dots", "/public/docs/../generate_name"),
    (
        "path-docs-credential-encoded",
        "/public/docs/%2e%2e/generate_name",
    ),
    ("path-dot-segments", "/public/../api/generate_name"),
    (
        "path-dot-segments-deep",
        "/public/docs/../../api/generate_name",
    ),
    ("path-encoded-dots", "/public/%2e%2e/api/generate_name"),
    (
        "path-encoded-slash",
        "/public/docs/..%2F..%2Fapi%2Fgenerate_name",
    ),
    ("path-encoded-slash-api", "/api%2Fgenerate_name"),
    (
        "path-encoded-backslash",
        "/public/docs/..%5C..%5Capi%5Cgenerate_name",
    ),
    ("path-double-slash", "//api/generate_name"),
];

/// Where the documentation is silent: what the gateway did.
fn observations(client: &Client, args: &VerifyArgs, rows: &mut Vec<Row>) {
    let key = client.key.as_str();
    let generate = api(GENERATE_NAME_PATH);
    let origin = args.origin.as_str();
    let mut observe = |id: &'static str,
                       request: &str,
                       reply: Result<Reply, String>,
                       detail: &dyn Fn(&Reply) -> String| {
        let observed = match reply {
            Err(error) => error,
            Ok(r) => detail(&r),
        };
        rows.push(Row {
            id,
            request: request.to_owned(),
            expected: "-".into(),
            observed,
            outcome: Outcome::Observed,
            reference: SILENT,
        });
    };
    let summary = |r: &Reply| r.summary();
    let with_cors = |r: &Reply| {
        format!(
            "{} allow-origin {:?}",
            r.summary(),
            r.header("access-control-allow-origin")
        )
    };

    observe(
        "cors-on-401",
        "GET /api/generate_name (no key), Origin",
        client.send("GET", &generate, Key::None, &[("Origin", origin)]),
        &with_cors,
    );
    observe(
        "cors-on-404",
        "GET /api/no_such_operation, header <key>, Origin",
        client.send(
            "GET",
            "/api/no_such_operation",
            Key::Header(key),
            &[("Origin", origin)],
        ),
        &with_cors,
    );
    observe(
        "preflight-unknown-path",
        "OPTIONS /api/no_such_operation, Origin, request GET",
        client.send(
            "OPTIONS",
            "/api/no_such_operation",
            Key::None,
            &[("Origin", origin), ("Access-Control-Request-Method", "GET")],
        ),
        &with_cors,
    );
    observe(
        "preflight-other-method",
        "OPTIONS /api/generate_name, Origin, request DELETE",
        client.send(
            "OPTIONS",
            &generate,
            Key::None,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "DELETE"),
            ],
        ),
        &|r: &Reply| {
            format!(
                "{} allow-methods {:?}",
                with_cors(r),
                r.header("access-control-allow-methods")
            )
        },
    );
    observe(
        "empty-key-header",
        "GET /api/generate_name, header with an empty value",
        client.send("GET", &generate, Key::Header(""), &[]),
        &summary,
    );
    let wrong = format!("{key}-not-this-one");
    observe(
        "duplicate-key-header",
        "GET /api/generate_name, header <key> twice",
        client.send(
            "GET",
            &generate,
            Key::Header(key),
            &[(SUBSCRIPTION_KEY_HEADER, key)],
        ),
        &summary,
    );
    observe(
        "duplicate-key-header-mixed",
        "GET /api/generate_name, header <key> then <wrong key>",
        client.send(
            "GET",
            &generate,
            Key::Header(key),
            &[(SUBSCRIPTION_KEY_HEADER, &wrong)],
        ),
        &summary,
    );
    observe(
        "key-header-and-wrong-query",
        "GET /api/generate_name?subscription-key=<wrong key>, header <key>",
        client.send(
            "GET",
            &format!("{generate}?{SUBSCRIPTION_KEY_QUERY}={wrong}"),
            Key::Header(key),
            &[],
        ),
        &summary,
    );
    observe(
        "key-to-public-api-query",
        "GET /public/openapi.json?subscription-key=<key>",
        client.send("GET", "/public/openapi.json", Key::Query(key), &[]),
        &summary,
    );
    // The component refuses a request carrying two backend-key headers, so a 200 here
    // means the gateway's credentials header replaced the client's, a 401 that both arrived.
    observe(
        "client-backend-key",
        "GET /api/generate_name, header <key>, x-backend-key: forged",
        client.send(
            "GET",
            &generate,
            Key::Header(key),
            &[(BACKEND_KEY_HEADER, "forged-by-the-client")],
        ),
        &|r: &Reply| {
            let meaning = match r.status {
                200 => " (the gateway's credential replaced the client's)",
                401 => {
                    " (the client's value reached the component beside or instead of the gateway's)"
                }
                _ => "",
            };
            format!("{}{meaning}", r.summary())
        },
    );
    observe(
        "trailing-slash",
        "GET /api/generate_name/, header <key>",
        client.send("GET", &format!("{generate}/"), Key::Header(key), &[]),
        &summary,
    );
    observe(
        "path-case",
        "GET /api/Generate_Name, header <key>",
        client.send("GET", "/api/Generate_Name", Key::Header(key), &[]),
        &summary,
    );
    observe(
        "api-prefix-case",
        "GET /API/generate_name, header <key>",
        client.send("GET", "/API/generate_name", Key::Header(key), &[]),
        &summary,
    );
    observe(
        "dot-segments-with-key",
        "GET /public/../api/generate_name, header <key>",
        client.send("GET", "/public/../api/generate_name", Key::Header(key), &[]),
        &summary,
    );
    observe(
        "encoded-slash-with-key",
        "GET /api%2Fgenerate_name, header <key>",
        client.send("GET", "/api%2Fgenerate_name", Key::Header(key), &[]),
        &summary,
    );
    // The key cannot be seen at the backend from outside (the component ignores unknown
    // headers and parameters); tests/gateway.rs checks its removal with a recording backend.
    rows.push(Row {
        id: "key-removed-before-backend",
        request: "-".into(),
        expected: "the subscription key never reaches the backend".into(),
        observed: "not observable from outside: the component ignores the header and the parameter (checked by tests/gateway.rs with a recording backend)".into(),
        outcome: Outcome::Skipped,
        reference: PROJECT_POLICY,
    });
}

/// Calls with the key until a 429, then checks its `Retry-After` and body.
fn rate_limit_check(client: &Client, args: &VerifyArgs, rows: &mut Vec<Row>) {
    let generate = api(GENERATE_NAME_PATH);
    let mut calls = 0;
    let mut last = Err("no call made".to_owned());
    while calls < args.rate_limit_max_calls {
        calls += 1;
        last = client.send("GET", &generate, Key::Header(&client.key), &[]);
        match &last {
            Ok(r) if r.status == 200 => continue,
            _ => break,
        }
    }
    let request = format!(
        "GET /api/generate_name, header <key>, until 429 (at most {} calls)",
        args.rate_limit_max_calls
    );
    contract(
        rows,
        "rate-limit-429",
        &request,
        "429, Retry-After N (1 to 300), APIM's body with the same N",
        RATE_LIMIT_DOC,
        last,
        |r| {
            let retry = r
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok());
            match retry {
                Some(n)
                    if r.status == 429
                        && (1..=u64::from(RATE_LIMIT_MAX_RENEWAL_SECS)).contains(&n) =>
                {
                    apim_error(r, 429, &messages::rate_limited(n))
                        .map(|s| format!("{s} after {calls} calls, Retry-After {n}"))
                }
                _ => Err(format!(
                    "{} after {calls} calls, Retry-After {:?}",
                    r.summary(),
                    r.header("retry-after")
                )),
            }
        },
    );
}

fn print_table(gateway: &str, rows: &[Row]) {
    println!("cargo xtask verify against {gateway}");
    let id_width = rows.iter().map(|r| r.id.len()).max().unwrap_or(2);
    for row in rows {
        println!(
            "{:<8}  {:<id_width$}  {}\n{:<8}  {:<id_width$}    -> {}",
            row.outcome.label(),
            row.id,
            row.request,
            "",
            "",
            row.observed
        );
    }
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count();
    println!(
        "verify: {} passed, {} failed, {} observed, {} skipped",
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Observed),
        count(Outcome::Skipped)
    );
}

fn write_report(args: &VerifyArgs, rows: &[Row], elapsed: Duration) -> Result<()> {
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count();
    let report = json!({
        "gateway": args.gateway.as_deref().unwrap_or_default(),
        "generated_unix": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "seconds": elapsed.as_secs_f64(),
        "summary": {
            "passed": count(Outcome::Pass),
            "failed": count(Outcome::Fail),
            "observed": count(Outcome::Observed),
            "skipped": count(Outcome::Skipped),
        },
        "checks": rows.iter().map(|r| json!({
            "id": r.id,
            "kind": if r.outcome == Outcome::Observed { "observation" } else { "contract" },
            "outcome": r.outcome.label(),
            "request": r.request,
            "expected": r.expected,
            "observed": r.observed,
            "reference": r.reference,
        })).collect::<Vec<_>>(),
    });
    if let Some(dir) = args.report.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.report, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", args.report.display()))?;
    println!("verify: report written to {}", args.report.display());
    Ok(())
}

/// The suite against the local stack, as `cargo xtask test` runs it: the composed component
/// on `wasmtime serve` in production mode, `apim-emulator` in front with two subscription
/// keys and a rate limit low enough to reach, every check including the rate limit.
pub fn against_local_stack(
    wasmtime: &Path,
    composed: &Path,
    emulator: &Path,
    report: PathBuf,
) -> Result<()> {
    const BACKEND_KEY: &str = "verify-backend-key-7c41e0";
    const DOCS_BACKEND_KEY: &str = "verify-docs-backend-key-2b9d";
    const PRIMARY: &str = "verify-primary-subscription-key-51aa";
    const SECONDARY: &str = "verify-secondary-subscription-key-e03f";
    let stack = Stack::start(StackOptions {
        host: HostProgram::Wasmtime {
            wasmtime: wasmtime.to_owned(),
            composed: composed.to_owned(),
        },
        host_port: free_loopback_port()?,
        gateway_port: free_loopback_port()?,
        credentials: Credentials {
            api: BACKEND_KEY.to_owned(),
            docs: DOCS_BACKEND_KEY.to_owned(),
        },
        subscription_keys: vec![PRIMARY.to_owned(), SECONDARY.to_owned()],
        named_values: vec![
            ("rate-limit-calls".to_owned(), "40".to_owned()),
            ("rate-limit-renewal-period".to_owned(), "60".to_owned()),
        ],
        emulator: emulator.to_owned(),
        output: Output::GatewayErrors,
    })?;
    verify(VerifyArgs {
        gateway: Some(stack.gateway_url()),
        key: Some(PRIMARY.to_owned()),
        key2: Some(SECONDARY.to_owned()),
        rate_limit: true,
        rate_limit_max_calls: 200,
        origin: "https://verify.example".to_owned(),
        report,
        local: false,
    })
}

/// A loopback port that was free a moment ago.
fn free_loopback_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
