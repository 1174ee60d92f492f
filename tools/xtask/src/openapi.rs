//! Generates `static-docs/openapi.json` (OpenAPI 3.0.3) from the component's own constants.
//!
//! Why 3.0.3 and `openapiv3`: APIM and most gateways import 3.0 without loss (3.1 support
//! is partial), and utoipa 4+ emits only 3.1. The document is written as JSON values (easy
//! to read next to the contract), then round-tripped through `openapiv3`'s typed 3.0 model,
//! so anything that is not 3.0 fails here. Routes, parameter rules, error shapes and
//! examples all come from `name_api` (the examples are rendered by the real error code),
//! and the gateway's messages from `apim_emulator::responses::messages` (what the emulator
//! sends), so the document cannot drift from the handler or the gateway; `cargo xtask openapi --check` (run by the
//! tests) fails when the committed file differs from a fresh generation.

use anyhow::{bail, Context, Result};
use apim_emulator::responses::messages;
use name_api::config::Misconfiguration;
use name_api::contract::*;
use name_api::names::NAMES;
use name_api::problem::{Problem, Unavailable};
use name_api::query::Rule;
use name_api::router::NameBody;
use serde_json::{json, Value};

use crate::paths::openapi_json;

/// APIM's error body, for the 401 and 429 the gateway answers with.
fn gateway_error(status: u16, message: &str) -> Value {
    json!({ "statusCode": status, "message": message })
}

/// Every problem the component answers with, one per variant, `NoMatch` with the longest
/// `starts_with` (so the longest detail). The `match` stops compiling when a variant is
/// added: add it to the list too.
fn every_problem() -> Vec<Problem> {
    let mut all = vec![
        Problem::NotFound,
        Problem::NoMatch {
            starts_with: "x".repeat(STARTS_WITH_MAX_CHARS),
        },
        Problem::MethodNotAllowed,
        Problem::Unauthorized,
        Problem::Unavailable(Unavailable::Config(Misconfiguration::KeyMissing(
            "backend_key",
        ))),
    ];
    all.extend(Rule::ALL.map(Problem::InvalidParameter));
    for problem in &all {
        match problem {
            Problem::NotFound
            | Problem::NoMatch { .. }
            | Problem::MethodNotAllowed
            | Problem::InvalidParameter(_)
            | Problem::Unauthorized
            | Problem::Unavailable(_) => {}
        }
    }
    all
}

/// The values without repeats, in first-seen order.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

/// Names of the headers the gateway adds to every answer it forwards on the `api` API: its
/// `rate-limit` policy's (`total-calls-header-name` and `remaining-calls-header-name` in
/// `infra/apim/policies/api.xml`; Microsoft Learn, "Limit call rate by subscription") and,
/// for cross-origin requests, its `cors` policy's. Declared once under
/// `components/headers`; none is sent when the component is called directly, so none is
/// required.
const GATEWAY_HEADERS: [&str; 3] = [
    RATE_LIMIT_LIMIT_HEADER,
    RATE_LIMIT_REMAINING_HEADER,
    "Access-Control-Allow-Origin",
];

/// `components/headers`: the definitions `GATEWAY_HEADERS` name.
fn gateway_header_definitions() -> Value {
    let count = |description: &str| {
        json!({
            "description": description,
            "required": false,
            "schema": { "type": "integer", "format": "int32", "minimum": 0, "maximum": i32::MAX }
        })
    };
    let [limit, remaining, allow_origin] = GATEWAY_HEADERS;
    json!({
        limit: count("Calls the subscription may make per renewal period (from the gateway's rate-limit policy)."),
        remaining: count("Calls left in the current renewal period (from the gateway's rate-limit policy)."),
        allow_origin: {
            "description": "Sent by the gateway's cors policy to cross-origin requests.",
            "required": false,
            "schema": { "type": "string", "maxLength": 2048, "pattern": "^(\\*|null|https?://[^\\s]+)$" }
        }
    })
}

/// References to `GATEWAY_HEADERS`, plus `extra`.
fn with_gateway_headers(extra: Value) -> Value {
    let mut headers = serde_json::Map::new();
    for name in GATEWAY_HEADERS {
        headers.insert(
            name.to_owned(),
            json!({ "$ref": format!("#/components/headers/{name}") }),
        );
    }
    if let Value::Object(extra) = extra {
        headers.extend(extra);
    }
    Value::Object(headers)
}

fn problem_example(problem: Problem) -> Value {
    serde_json::to_value(problem.body()).expect("problem bodies serialise")
}

fn problem_content(examples: Value) -> Value {
    json!({ PROBLEM_CONTENT_TYPE: {
        "schema": { "$ref": "#/components/schemas/Problem" },
        "examples": examples,
    }})
}

/// The whole document, as JSON.
pub fn document() -> Value {
    let rule_codes: Vec<&str> = Rule::ALL.iter().map(|rule| rule.code()).collect();
    let rule_reasons: Vec<&str> = Rule::ALL.iter().map(|rule| rule.reason()).collect();
    let problems: Vec<_> = every_problem().iter().map(Problem::body).collect();
    let titles = distinct(problems.iter().map(|body| body.title.to_owned()));
    let longest_detail = problems
        .iter()
        .map(|body| body.detail.chars().count())
        .max()
        .expect("there are problems");
    let pattern = name_api::letters::ecma_pattern();
    let pattern_summary = "one or more letters of any script (Unicode category L in the Basic Multilingual Plane), spaces, apostrophes, hyphens or periods";
    let longest_name = NAMES
        .iter()
        .map(|name| name.chars().count())
        .max()
        .expect("the list is not empty");
    let mut invalid_examples = serde_json::Map::new();
    for rule in Rule::ALL {
        invalid_examples.insert(
            rule.code().to_owned(),
            json!({ "summary": rule.reason(), "value": problem_example(Problem::InvalidParameter(rule)) }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "name-api",
            "version": env!("CARGO_PKG_VERSION"),
            "description": concat!(
                "Random given names, served by a Spin WebAssembly component behind Azure API Management.\n\n",
                "Calls to `/api/...` need a subscription key: use **Authorize** and enter it, or send the ",
                "`Ocp-Apim-Subscription-Key` header or the `subscription-key` query parameter. ",
                "Errors from the service are RFC 9457 problem details (`application/problem+json`); ",
                "errors from the gateway (401, 429, 500) are API Management's `{statusCode, message}` JSON."
            ),
            "license": { "name": "MIT" }
        },
        "servers": [{
            "url": "/",
            "description": "Where this document is served from (`/` locally, `/api` behind the production gateway; set by the `api_base` variable).",
            "x-internal": false
        }],
        "security": [
            { "apimSubscriptionKeyHeader": [] },
            { "apimSubscriptionKeyQuery": [] }
        ],
        "tags": [{ "name": "names", "description": "Random names" }],
        "paths": {
            GENERATE_NAME_PATH: {
                "get": {
                    "tags": ["names"],
                    "operationId": "generate_name",
                    "summary": "Generate a random name",
                    "description": "Returns a name drawn uniformly at random from a curated list of several hundred given names, optionally only among those whose lowercase form starts with the lowercase `starts_with`.",
                    "parameters": [{
                        "name": STARTS_WITH,
                        "in": "query",
                        "required": false,
                        "description": format!(
                            "Only names starting with this text, compared in lowercase (Unicode-aware). {}. Letters are Unicode general category L in the Basic Multilingual Plane (the `pattern` spells them out so that every regex engine reads it alike). Other query parameters are ignored.",
                            capitalised(STARTS_WITH_RULE)
                        ),
                        "schema": {
                            "type": "string",
                            "minLength": STARTS_WITH_MIN_CHARS,
                            "maxLength": STARTS_WITH_MAX_CHARS,
                            "pattern": pattern,
                            // Shown by the docs page in place of the pattern itself
                            // (static-docs/pattern-summary-plugin.js).
                            "x-pattern-summary": pattern_summary,
                        },
                        "example": "N"
                    }],
                    "responses": {
                        "200": {
                            "description": "A name.",
                            "headers": with_gateway_headers(json!({ "Cache-Control": { "description": "Always `no-store`: every call is a new draw.", "schema": { "type": "string", "enum": ["no-store"] } } })),
                            "content": { JSON_CONTENT_TYPE: {
                                "schema": { "$ref": "#/components/schemas/Name" },
                                "example": serde_json::to_value(NameBody { name: "Nadia" }).unwrap()
                            }}
                        },
                        "401": {
                            "description": "Missing or invalid subscription key (from the gateway), or a request that bypassed the gateway (from the service).",
                            "content": {
                                JSON_CONTENT_TYPE: {
                                    "schema": { "$ref": "#/components/schemas/GatewayError" },
                                    "examples": {
                                        "missing": { "value": gateway_error(401, messages::MISSING_KEY) },
                                        "invalid": { "value": gateway_error(401, messages::INVALID_KEY) }
                                    }
                                },
                                PROBLEM_CONTENT_TYPE: {
                                    "schema": { "$ref": "#/components/schemas/Problem" },
                                    "example": problem_example(Problem::Unauthorized)
                                }
                            }
                        },
                        "404": {
                            "description": "No name starts with `starts_with`.",
                            "headers": with_gateway_headers(json!({})),
                            "content": problem_content(json!({ "no_match": { "value": problem_example(Problem::NoMatch { starts_with: "Xy".into() }) } }))
                        },
                        "405": {
                            "description": "Method other than GET or HEAD (from the service). Through API Management, a method no operation declares gets the gateway's 404 `{statusCode, message}` instead.",
                            "headers": { "Allow": { "description": "The allowed methods.", "schema": { "type": "string", "enum": [ALLOWED_METHODS] } } },
                            "content": problem_content(json!({ "method_not_allowed": { "value": problem_example(Problem::MethodNotAllowed) } }))
                        },
                        "422": {
                            "description": "`starts_with` breaks a rule; `invalid_params` names the parameter and the rule.",
                            "headers": with_gateway_headers(json!({})),
                            "content": problem_content(Value::Object(invalid_examples))
                        },
                        "429": {
                            "description": "Rate limit of the subscription exceeded (from the gateway).",
                            "headers": with_gateway_headers(json!({ "Retry-After": {
                                "description": "Seconds until a call is allowed again (API Management caps the renewal period at 300 s).",
                                "schema": { "type": "integer", "format": "int32", "minimum": 0, "maximum": RATE_LIMIT_MAX_RENEWAL_SECS }
                            } })),
                            "content": { JSON_CONTENT_TYPE: {
                                "schema": { "$ref": "#/components/schemas/GatewayError" },
                                "example": gateway_error(429, &messages::rate_limited(42))
                            }}
                        },
                        "500": {
                            "description": "The gateway could not get an answer from the service (down, too slow, or broken); `activityId` correlates it with the gateway's logs.",
                            "content": { JSON_CONTENT_TYPE: {
                                "schema": { "$ref": "#/components/schemas/GatewayError" },
                                "example": { "statusCode": 500, "message": "Internal server error", "activityId": "8d3e3f5c-2b1a-4c6d-9e0f-1a2b3c4d5e6f" }
                            }}
                        },
                        "503": {
                            "description": "The service is misconfigured (production mode without its backend key) and refuses requests.",
                            "content": problem_content(json!({ "misconfigured": { "value": problem_example(Problem::Unavailable(Unavailable::Config(Misconfiguration::KeyMissing("backend_key")))) } }))
                        }
                    }
                }
            }
        },
        "components": {
            "headers": gateway_header_definitions(),
            "schemas": {
                "Name": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": false,
                    "properties": { "name": { "type": "string", "minLength": 1, "maxLength": longest_name, "description": "A given name." } }
                },
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details; the one shape of every error the service returns.",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": { "type": "string", "enum": ["about:blank"] },
                        "title": { "type": "string", "enum": titles, "description": "The HTTP reason phrase (RFC 9110)." },
                        "status": { "type": "integer", "format": "int32", "minimum": 400, "maximum": 599 },
                        "detail": { "type": "string", "maxLength": longest_detail },
                        "invalid_params": {
                            "type": "array",
                            "description": "Present on 422 only.",
                            "minItems": 1,
                            "maxItems": 1,
                            "items": { "$ref": "#/components/schemas/InvalidParam" }
                        }
                    }
                },
                "InvalidParam": {
                    "type": "object",
                    "required": ["name", "in", "rule", "reason"],
                    "properties": {
                        "name": { "type": "string", "enum": [STARTS_WITH] },
                        "in": { "type": "string", "enum": ["query"] },
                        "rule": { "type": "string", "enum": rule_codes },
                        "reason": { "type": "string", "enum": rule_reasons }
                    }
                },
                "GatewayError": {
                    "type": "object",
                    "description": "Azure API Management's error body.",
                    "required": ["statusCode", "message"],
                    "properties": {
                        "statusCode": { "type": "integer", "format": "int32", "minimum": 400, "maximum": 599 },
                        "message": { "type": "string", "maxLength": 1024, "description": "One sentence in English." },
                        "activityId": { "type": "string", "format": "uuid", "maxLength": 36, "description": "On 500 only: correlates the answer with the gateway's logs." }
                    }
                }
            },
            "securitySchemes": {
                "apimSubscriptionKeyHeader": {
                    "type": "apiKey", "in": "header", "name": SUBSCRIPTION_KEY_HEADER,
                    "description": "API Management subscription key (either of the subscription's two keys)."
                },
                "apimSubscriptionKeyQuery": {
                    "type": "apiKey", "in": "query", "name": SUBSCRIPTION_KEY_QUERY,
                    "description": "The same key as a query parameter."
                }
            }
        }
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The document as committed: checked against the typed 3.0 model, pretty-printed.
pub fn render() -> Result<String> {
    let typed: openapiv3::OpenAPI = serde_json::from_value(document())
        .context("the document does not fit the OpenAPI 3.0 model")?;
    if typed.openapi != "3.0.3" {
        bail!("expected OpenAPI 3.0.3, got {}", typed.openapi);
    }
    let mut text = serde_json::to_string_pretty(&typed)?;
    text.push('\n');
    Ok(text)
}

/// Write the document, or with `check` fail if the committed one differs.
pub fn run(check: bool) -> Result<()> {
    let fresh = render()?;
    let path = openapi_json();
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            bail!(
                "{} is out of date with the code: run `cargo xtask openapi` and commit it",
                path.display()
            );
        }
        println!("openapi: {} is up to date", path.display());
    } else {
        std::fs::write(&path, fresh)?;
        println!("openapi: wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_document_is_current() {
        let committed = std::fs::read_to_string(openapi_json()).unwrap();
        assert!(committed == render().unwrap(), "run `cargo xtask openapi`");
    }

    /// Configuration for [`name_api::router::handle`], from pairs.
    struct Vars(&'static [(&'static str, &'static str)]);

    impl name_api::config::Variables for Vars {
        fn get(&self, name: &str) -> Result<Option<String>, name_api::config::VariableError> {
            Ok(self
                .0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()))
        }
    }

    /// What the component answers to `method target` under `vars`: status and JSON body.
    fn answer(
        method: &str,
        target: &str,
        vars: &'static [(&'static str, &'static str)],
    ) -> (u16, Value) {
        use rand::SeedableRng;
        let request = http::Request::builder()
            .method(method)
            .uri(target)
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let response = name_api::router::handle(&request, &Vars(vars), &mut rng);
        let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        (response.status().as_u16(), body)
    }

    /// The document against the running handler, not against the constants it was built
    /// from: every status the handler answers on the route is documented with the body it
    /// really sends, and the length limits are where the handler starts refusing.
    #[test]
    fn document_describes_what_the_handler_answers() {
        let doc = document();
        let get = &doc["paths"]["/generate_name"]["get"];
        let responses = get["responses"].as_object().unwrap();
        let problem = |status: &str| &responses[status]["content"]["application/problem+json"];
        let examples = |status: &str| -> Vec<Value> {
            problem(status)["examples"]
                .as_object()
                .unwrap()
                .values()
                .map(|e| e["value"].clone())
                .collect()
        };
        let ok = answer("GET", "/generate_name", &[]);
        assert_eq!(ok.0, 200);
        assert!(ok.1["name"].is_string() && responses.contains_key("200"));
        assert_eq!(
            answer("GET", "/generate_name?starts_with=Xy", &[]),
            (404, examples("404")[0].clone())
        );
        assert_eq!(
            answer("POST", "/generate_name", &[]),
            (405, examples("405")[0].clone())
        );
        let unauthorized = answer("GET", "/generate_name", &[("backend_key", "k")]);
        assert_eq!(unauthorized, (401, problem("401")["example"].clone()));
        let refused = answer("GET", "/generate_name", &[("require_backend_key", "true")]);
        assert_eq!(refused, (503, examples("503")[0].clone()));
        // Every 422 the handler gives is one of the documented examples.
        for query in [
            "starts_with=",
            "starts_with=a1",
            "starts_with=%zz",
            "starts_with=a&starts_with=a",
        ] {
            let (status, body) = answer("GET", &format!("/generate_name?{query}"), &[]);
            assert_eq!(status, 422, "{query}");
            assert!(examples("422").contains(&body), "{query}: {body}");
        }
        // The limits are where the handler starts refusing, counted in characters.
        let schema = &get["parameters"][0]["schema"];
        assert_eq!(get["parameters"][0]["name"], "starts_with");
        let (min, max) = (
            schema["minLength"].as_u64().unwrap() as usize,
            schema["maxLength"].as_u64().unwrap() as usize,
        );
        let rule = |value: String| {
            let (status, body) = answer("GET", &format!("/generate_name?starts_with={value}"), &[]);
            (status == 422).then(|| {
                body["invalid_params"][0]["rule"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        };
        assert_eq!(
            rule("%C3%A9".repeat(min - 1)).as_deref(),
            Some("min_length")
        );
        assert_eq!(rule("%C3%A9".repeat(min)), None);
        assert_eq!(rule("%C3%A9".repeat(max)), None);
        assert_eq!(
            rule("%C3%A9".repeat(max + 1)).as_deref(),
            Some("max_length")
        );
        // 429 and 500 come from the gateway, not the handler; the emulator's tests and
        // `cargo xtask verify` check their bodies.
        let documented: Vec<&String> = responses.keys().collect();
        assert_eq!(
            documented,
            ["200", "401", "404", "405", "422", "429", "500", "503"]
        );
    }

    /// The subscription key's names are the ones the gateway's API declaration uses.
    #[test]
    fn security_schemes_match_the_gateway_declaration() {
        let declaration: Value = serde_json::from_str(
            &std::fs::read_to_string(crate::paths::root().join("infra/apim/apis/api.json"))
                .unwrap(),
        )
        .unwrap();
        let names = &declaration["subscriptionKeyParameterNames"];
        let schemes = &document()["components"]["securitySchemes"];
        assert_eq!(
            schemes["apimSubscriptionKeyHeader"]["name"],
            names["header"]
        );
        assert_eq!(schemes["apimSubscriptionKeyQuery"]["name"], names["query"]);
    }
}
