//! Configuration: Spin variables, read per request through a small trait.
//!
//! Spin variables are the one configuration path on every host: `spin up` reads them from
//! a runtime config's static provider, `--variable`, `SPIN_VARIABLE_*` or `.env`;
//! SpinKube's shim from the runtime config mounted from a Secret; `wasmtime serve` gets
//! them from the environment through the composed plug (`tools/spin-variables-env`). The
//! component only ever sees [`Variables`], so tests supply a map.
//!
//! Every read may cost a host call (about 25 ms in Spin's environment provider, see the
//! README's Spin section), so callers read lazily: only the variables a route needs, each
//! at most once per request.

use std::fmt;

/// Credential the `api` API injects; reaches every route. Empty: no check (local use).
pub const BACKEND_KEY: &str = "backend_key";
/// Accepted beside [`BACKEND_KEY`] during a rotation; empty means none.
pub const BACKEND_KEY_NEXT: &str = "backend_key_next";
/// Credential the `public` API injects; reaches only the docs and the OpenAPI document.
pub const DOCS_BACKEND_KEY: &str = "docs_backend_key";
/// Accepted beside [`DOCS_BACKEND_KEY`] during a rotation; empty means none.
pub const DOCS_BACKEND_KEY_NEXT: &str = "docs_backend_key_next";
/// The server URL `openapi.json` advertises: `/` locally, `/api` behind the gateway.
pub const API_BASE: &str = "api_base";
/// `true` in production: an empty credential then fails closed instead of open.
pub const REQUIRE_BACKEND_KEY: &str = "require_backend_key";

/// Every variable the component reads, for the manifest check and the documentation.
pub const ALL: [&str; 6] = [
    BACKEND_KEY,
    BACKEND_KEY_NEXT,
    DOCS_BACKEND_KEY,
    DOCS_BACKEND_KEY_NEXT,
    API_BASE,
    REQUIRE_BACKEND_KEY,
];

/// Default of [`API_BASE`].
pub const DEFAULT_API_BASE: &str = "/";

/// Why a variable could not be read (the text never contains a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableError(pub String);

/// Source of configuration values. `Ok(None)` means "not set": use the default.
pub trait Variables {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError>;
}

/// Why the component refuses to serve a route (`503`). Names variables, never values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misconfiguration {
    /// Production mode (`require_backend_key = true`) and this credential is empty.
    KeyMissing(&'static str),
    /// The host could not answer this variable.
    Unreadable(&'static str),
    /// `require_backend_key` is neither `true` nor `false`.
    BadRequireFlag,
    /// `api_base` is not a path or an http(s) URL.
    BadApiBase,
}

impl fmt::Display for Misconfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyMissing(name) => {
                write!(f, "{REQUIRE_BACKEND_KEY} is true but {name} is empty")
            }
            Self::Unreadable(name) => write!(f, "{name} could not be read"),
            Self::BadRequireFlag => write!(f, "{REQUIRE_BACKEND_KEY} is not true or false"),
            Self::BadApiBase => write!(f, "{API_BASE} is not a path or http(s) URL"),
        }
    }
}

/// A variable's value; unset reads as empty.
pub fn read(vars: &dyn Variables, name: &'static str) -> Result<String, Misconfiguration> {
    vars.get(name)
        .map(Option::unwrap_or_default)
        .map_err(|_| Misconfiguration::Unreadable(name))
}

/// Whether production mode is on. Unset is `false`; anything but true/false
/// (case-insensitive) is a misconfiguration, so a typo never fails open.
pub fn require_backend_key(vars: &dyn Variables) -> Result<bool, Misconfiguration> {
    let value = read(vars, REQUIRE_BACKEND_KEY)?;
    match value.trim() {
        "" => Ok(false),
        v if v.eq_ignore_ascii_case("true") => Ok(true),
        v if v.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(Misconfiguration::BadRequireFlag),
    }
}

/// The server URL to advertise.
///
/// Accepted: an absolute path (`/`, `/api`) or an `http(s)://` URL, printable ASCII
/// without quotes, spaces or backslashes, at most 2048 bytes. Unset or empty is `/`.
pub fn api_base(vars: &dyn Variables) -> Result<String, Misconfiguration> {
    let value = read(vars, API_BASE)?;
    if value.is_empty() {
        return Ok(DEFAULT_API_BASE.to_owned());
    }
    let shape_ok =
        value.starts_with('/') || value.starts_with("https://") || value.starts_with("http://");
    let chars_ok = value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'<' | b'>'));
    if shape_ok && chars_ok && value.len() <= 2048 {
        Ok(value)
    } else {
        Err(Misconfiguration::BadApiBase)
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A fixed map of variables that records every read, for tests.
    pub struct Map {
        values: HashMap<String, String>,
        reads: RefCell<Vec<String>>,
    }

    impl Map {
        /// The names read so far, in order.
        pub fn reads(&self) -> Vec<String> {
            self.reads.borrow().clone()
        }
    }

    impl Variables for Map {
        fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
            self.reads.borrow_mut().push(name.to_owned());
            Ok(self.values.get(name).cloned())
        }
    }

    pub fn vars(pairs: &[(&str, &str)]) -> Map {
        Map {
            values: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            reads: RefCell::default(),
        }
    }

    /// A host whose provider fails on every read.
    pub struct Broken;
    impl Variables for Broken {
        fn get(&self, _: &str) -> Result<Option<String>, VariableError> {
            Err(VariableError("provider down".into()))
        }
    }

    #[test]
    fn require_flag_table() {
        for (value, expected) in [
            (None, Ok(false)),
            (Some(""), Ok(false)),
            (Some("false"), Ok(false)),
            (Some(" FALSE "), Ok(false)),
            (Some("true"), Ok(true)),
            (Some("TRUE"), Ok(true)),
            (Some("yes"), Err(Misconfiguration::BadRequireFlag)),
            (Some("1"), Err(Misconfiguration::BadRequireFlag)),
        ] {
            let map = match value {
                Some(v) => vars(&[(REQUIRE_BACKEND_KEY, v)]),
                None => vars(&[]),
            };
            assert_eq!(require_backend_key(&map), expected, "{value:?}");
        }
        assert_eq!(
            require_backend_key(&Broken),
            Err(Misconfiguration::Unreadable(REQUIRE_BACKEND_KEY))
        );
    }

    #[test]
    fn api_base_defaults_and_validation() {
        assert_eq!(api_base(&vars(&[])).as_deref(), Ok("/"));
        assert_eq!(api_base(&vars(&[(API_BASE, "")])).as_deref(), Ok("/"));
        assert_eq!(
            api_base(&vars(&[(API_BASE, "/api")])).as_deref(),
            Ok("/api")
        );
        assert_eq!(
            api_base(&vars(&[(API_BASE, "https://gw.example.net/api")])).as_deref(),
            Ok("https://gw.example.net/api")
        );
        for bad in ["api", "/a b", "/a\"b", "javascript:x", "/a\\b"] {
            assert_eq!(
                api_base(&vars(&[(API_BASE, bad)])),
                Err(Misconfiguration::BadApiBase),
                "{bad}"
            );
        }
        assert_eq!(
            api_base(&Broken),
            Err(Misconfiguration::Unreadable(API_BASE))
        );
    }

    #[test]
    fn reasons_name_variables_never_values() {
        assert_eq!(
            Misconfiguration::KeyMissing(BACKEND_KEY).to_string(),
            "require_backend_key is true but backend_key is empty"
        );
        assert_eq!(
            Misconfiguration::KeyMissing(DOCS_BACKEND_KEY).to_string(),
            "require_backend_key is true but docs_backend_key is empty"
        );
    }
}
