//! `spin.toml` declares what the code reads, with the same defaults, and `spin-local.toml`
//! answers all of it statically. Needs no host.

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

/// `spin-local.toml` (the fast local Spin configuration) answers every variable the
/// component reads from Spin's static provider, with the manifest's defaults: a variable
/// it missed would fall through to the environment provider (about 25 ms per read).
#[test]
fn local_runtime_config_answers_every_variable_statically_with_the_defaults() {
    let read = |file: &str| -> toml::Table {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
            .unwrap()
            .parse()
            .unwrap()
    };
    let manifest = read("spin.toml");
    let local = read("spin-local.toml");
    let providers = local["variables_provider"].as_array().unwrap();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0]["type"].as_str(), Some("static"));
    let values = providers[0]["values"].as_table().unwrap();
    let mut names: Vec<&str> = values.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = config::ALL.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for name in config::ALL {
        assert_eq!(
            values[name].as_str(),
            manifest["variables"][name]["default"].as_str(),
            "{name}"
        );
    }
}
