//! `spin.toml` declares what the code reads, with the same defaults. Needs no host.

use name_api::config;

#[test]
fn spin_manifest_declares_what_the_code_reads_with_the_same_defaults() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spin.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let variables = manifest["variables"].as_table().unwrap();
    let mut declared_names: Vec<&str> = variables.keys().map(String::as_str).collect();
    declared_names.sort_unstable();
    let mut read_names = config::ALL.to_vec();
    read_names.sort_unstable();
    assert_eq!(
        declared_names, read_names,
        "declared = read by the component"
    );
    for (name, default, secret) in [
        (config::BACKEND_KEY, "", true),
        (config::BACKEND_KEY_NEXT, "", true),
        (config::DOCS_BACKEND_KEY, "", true),
        (config::DOCS_BACKEND_KEY_NEXT, "", true),
        (config::API_BASE, config::DEFAULT_API_BASE, false),
        (config::REQUIRE_BACKEND_KEY, "false", false),
    ] {
        let declared = variables[name]
            .as_table()
            .unwrap_or_else(|| panic!("{name} not declared"));
        assert_eq!(declared["default"].as_str(), Some(default), "{name}");
        assert_eq!(
            declared
                .get("secret")
                .and_then(|s| s.as_bool())
                .unwrap_or(false),
            secret,
            "{name}"
        );
        let component = &manifest["component"]["name-api"];
        assert_eq!(
            component["variables"][name].as_str(),
            Some(&format!("{{{{ {name} }}}}")[..]),
            "{name}"
        );
    }
    let component = &manifest["component"]["name-api"];
    assert_eq!(
        component["source"].as_str(),
        Some("target/wasm32-wasip2/release/name_api.wasm")
    );
    assert_eq!(
        component["allowed_outbound_hosts"].as_array().map(Vec::len),
        Some(0)
    );
    let build = component["build"]["command"].as_str().unwrap();
    assert!(
        build.contains("--target wasm32-wasip2") && build.contains("--release"),
        "{build}"
    );
    let trigger = &manifest["trigger"]["http"].as_array().unwrap()[0];
    assert_eq!(trigger["route"].as_str(), Some("/..."));
}
