//! Configuration: Spin variables, read per request through a small trait.
//!
//! Spin variables are the one configuration path on every host: `spin up` reads them from
//! `SPIN_VARIABLE_*`, `.env`, `--variable` or a secrets provider (Azure Key Vault);
//! SpinKube's `SpinApp` maps them from Kubernetes secrets; `wasmtime serve` gets them from
//! the environment through the composed plug (`tools/spin-variables-env`). The component
//! only ever sees [`Variables`], so tests supply a map.

/// Secret shared with the gateway. Empty means "no check" unless production mode is on.
pub const BACKEND_KEY: &str = "backend_key";
/// The server URL `openapi.json` advertises: `/` locally, `/api` behind the gateway.
pub const API_BASE: &str = "api_base";
/// `true` in production: an empty `backend_key` then fails closed instead of open.
pub const REQUIRE_BACKEND_KEY: &str = "require_backend_key";

/// Default of [`API_BASE`].
pub const DEFAULT_API_BASE: &str = "/";

/// Why a variable could not be read (the text never contains a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableError(pub String);

/// Source of configuration values. `Ok(None)` means "not set": use the default.
pub trait Variables {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError>;
}

/// What the backend-key rule is, once the variables are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPolicy {
    /// No key configured, development mode: every request is let through.
    Open,
    /// Every request must carry this key.
    Require(String),
    /// Production mode without a key, or configuration unreadable: refuse everything.
    FailClosed(&'static str),
}

/// Read the backend-key policy. Never fails open on an error.
pub fn key_policy(vars: &dyn Variables) -> KeyPolicy {
    let key = match vars.get(BACKEND_KEY) {
        Ok(key) => key.unwrap_or_default(),
        Err(_) => return KeyPolicy::FailClosed("backend_key could not be read"),
    };
    if !key.is_empty() {
        return KeyPolicy::Require(key);
    }
    match vars
        .get(REQUIRE_BACKEND_KEY)
        .map(|v| parse_bool(v.as_deref()))
    {
        Ok(Some(false)) => KeyPolicy::Open,
        Ok(Some(true)) => {
            KeyPolicy::FailClosed("require_backend_key is true but backend_key is empty")
        }
        Ok(None) | Err(_) => KeyPolicy::FailClosed("require_backend_key is not true or false"),
    }
}

/// `None` for anything but true/false (case-insensitive); unset is `false`.
fn parse_bool(value: Option<&str>) -> Option<bool> {
    match value.map(str::trim) {
        None | Some("") => Some(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => None,
    }
}

/// The server URL to advertise, or `None` if the configured value is unusable.
///
/// Accepted: an absolute path (`/`, `/api`) or an `http(s)://` URL, printable ASCII
/// without quotes, spaces or backslashes, at most 2048 bytes.
pub fn api_base(vars: &dyn Variables) -> Option<String> {
    let value = match vars.get(API_BASE) {
        Ok(Some(v)) if !v.is_empty() => v,
        Ok(_) => return Some(DEFAULT_API_BASE.to_owned()),
        Err(_) => return None,
    };
    let shape_ok =
        value.starts_with('/') || value.starts_with("https://") || value.starts_with("http://");
    let chars_ok = value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'<' | b'>'));
    (shape_ok && chars_ok && value.len() <= 2048).then_some(value)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fixed map of variables, for tests.
    pub struct Map(pub HashMap<&'static str, &'static str>);

    impl Variables for Map {
        fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
            Ok(self.0.get(name).map(|v| (*v).to_owned()))
        }
    }

    pub fn vars(pairs: &[(&'static str, &'static str)]) -> Map {
        Map(pairs.iter().copied().collect())
    }

    struct Broken;
    impl Variables for Broken {
        fn get(&self, _: &str) -> Result<Option<String>, VariableError> {
            Err(VariableError("provider down".into()))
        }
    }

    #[test]
    fn key_policy_table() {
        assert_eq!(key_policy(&vars(&[])), KeyPolicy::Open);
        assert_eq!(key_policy(&vars(&[(BACKEND_KEY, "")])), KeyPolicy::Open);
        assert_eq!(
            key_policy(&vars(&[(BACKEND_KEY, "k")])),
            KeyPolicy::Require("k".into())
        );
        assert_eq!(
            key_policy(&vars(&[(BACKEND_KEY, "k"), (REQUIRE_BACKEND_KEY, "true")])),
            KeyPolicy::Require("k".into())
        );
        assert!(matches!(
            key_policy(&vars(&[(REQUIRE_BACKEND_KEY, "TRUE")])),
            KeyPolicy::FailClosed(_)
        ));
        assert!(matches!(
            key_policy(&vars(&[(REQUIRE_BACKEND_KEY, "yes")])),
            KeyPolicy::FailClosed(_)
        ));
        assert!(matches!(key_policy(&Broken), KeyPolicy::FailClosed(_)));
    }

    #[test]
    fn api_base_defaults_and_validation() {
        assert_eq!(api_base(&vars(&[])).as_deref(), Some("/"));
        assert_eq!(api_base(&vars(&[(API_BASE, "")])).as_deref(), Some("/"));
        assert_eq!(
            api_base(&vars(&[(API_BASE, "/api")])).as_deref(),
            Some("/api")
        );
        assert_eq!(
            api_base(&vars(&[(API_BASE, "https://gw.example.net/api")])).as_deref(),
            Some("https://gw.example.net/api")
        );
        for bad in ["api", "/a b", "/a\"b", "javascript:x", "/a\\b"] {
            let leaked: &'static str = Box::leak(bad.to_owned().into_boxed_str());
            assert_eq!(api_base(&vars(&[(API_BASE, leaked)])), None, "{bad}");
        }
        assert_eq!(api_base(&Broken), None);
    }
}
