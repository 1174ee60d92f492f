//! Any method, path, query, headers and configuration through the Spin entry point's
//! request conversion ([`name_api::request::parts`]) and [`name_api::router::handle`]: it
//! must never panic, keep every header (repeats included), and every answer must be one
//! the contract allows, with a consistent body and length.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use name_api::config::{VariableError, Variables};
use rand::SeedableRng;

struct Map(HashMap<&'static str, String>);

impl Variables for Map {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        Ok(self.0.get(name).cloned())
    }
}

fn answer(
    parts: &http::request::Parts,
    config: &Map,
    selector: u8,
) -> name_api::response::Response {
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(selector));
    name_api::router::handle(parts, config, &mut rng)
}

fuzz_target!(|data: &[u8]| {
    // Layout: method \n target \n config-selector \n header lines (`name:value`, any bytes)...
    let mut lines = data.split(|&b| b == b'\n');
    let method = String::from_utf8_lossy(lines.next().unwrap_or(b"GET")).into_owned();
    let target = String::from_utf8_lossy(lines.next().unwrap_or(b"/")).into_owned();
    let selector = lines.next().and_then(|l| l.first().copied()).unwrap_or(0);

    // Also the query parser alone, on raw text.
    let _ = name_api::query::starts_with(Some(&target));
    let _ = name_api::query::decode(&target);

    let headers: Vec<(String, &[u8])> = lines
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            Some((name.trim().to_owned(), line[colon + 1..].trim_ascii()))
        })
        .collect();
    // A missing target is what a host without a path hands over.
    let path = (selector & 8 == 0).then_some(target.as_str());
    let Some(parts) = name_api::request::parts(
        &method,
        path,
        headers.iter().map(|(n, v)| (n.as_str(), *v)),
    ) else {
        return;
    };
    assert_eq!(parts.headers.len(), headers.len(), "every header kept");

    let mut config = HashMap::new();
    if selector & 1 != 0 {
        config.insert("backend_key", "k".to_owned());
    }
    if selector & 2 != 0 {
        config.insert("require_backend_key", "true".to_owned());
    }
    if selector & 4 != 0 {
        config.insert("api_base", target.clone());
    }
    if selector & 16 != 0 {
        config.insert("docs_backend_key", "d".to_owned());
    }
    let config = Map(config);
    let response = answer(&parts, &config, selector);

    let status = response.status().as_u16();
    assert!(
        [200, 304, 307, 401, 404, 405, 422, 503].contains(&status),
        "status {status}"
    );
    if status >= 400 && parts.method != http::Method::HEAD {
        let body: serde_json::Value =
            serde_json::from_slice(response.body()).expect("problem JSON");
        assert_eq!(body["status"], status);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    if status != 304 {
        let length = response
            .headers()
            .get("content-length")
            .expect("Content-Length on every answer but 304");
        // HEAD: the length GET's body has (RFC 9110 9.3.2), the same draw for the same seed.
        let expected = if parts.method == http::Method::HEAD {
            let mut get = parts.clone();
            get.method = http::Method::GET;
            answer(&get, &config, selector).body().len()
        } else {
            response.body().len()
        };
        assert_eq!(length.to_str().unwrap(), expected.to_string());
    }
});
