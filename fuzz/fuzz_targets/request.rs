//! Any method, path, query, headers and configuration through `router::handle`: it must
//! never panic, and every answer must be one the contract allows, with a consistent body.
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

fuzz_target!(|data: &[u8]| {
    // Layout: method \n target \n config-selector \n header lines...
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("GET");
    let target = lines.next().unwrap_or("/");
    let selector = lines.next().unwrap_or("").bytes().next().unwrap_or(0);

    // Also the query parser alone, on raw text.
    let _ = name_api::query::starts_with(Some(target));
    let _ = name_api::query::decode(target);

    let mut builder = http::Request::builder().method(method).uri(target);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();

    let mut config = HashMap::new();
    if selector & 1 != 0 {
        config.insert("backend_key", "k".to_owned());
    }
    if selector & 2 != 0 {
        config.insert("require_backend_key", "true".to_owned());
    }
    if selector & 4 != 0 {
        config.insert("api_base", target.to_owned());
    }
    if selector & 8 != 0 {
        config.insert("docs_backend_key", "d".to_owned());
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(selector));
    let response = name_api::router::handle(&parts, &Map(config), &mut rng);

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
    if let Some(length) = response.headers().get("content-length") {
        if parts.method != http::Method::HEAD {
            assert_eq!(length.to_str().unwrap(), response.body().len().to_string());
        }
    }
});
