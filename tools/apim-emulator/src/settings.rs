//! Settings that may change while the emulator runs, and how the running configuration is
//! built from them.
//!
//! The command line (or environment) gives the starting values: `--backend` and
//! `--named-value`. A settings file (`--settings-file PATH`, a JSON object
//! `{"backend": "http://127.0.0.1:3001", "namedValues": {"backend-key": "..."}}`, both
//! members optional) overrides them, and is re-read on SIGHUP: that is how a local key
//! rotation (a new `backend-key`) or a rolling switch to another backend is modelled
//! without a restart, much as APIM refreshes a Key Vault-backed named value in place.
//!
//! Every load re-reads the declarations under `infra/apim/` too, because named values are
//! substituted into them. A load that fails leaves the running configuration untouched;
//! its error names files, fields and named values, never a value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::declarations;
use crate::gateway::Config;

/// The settings file's shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsFile {
    backend: Option<String>,
    #[serde(default)]
    named_values: BTreeMap<String, String>,
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// Repository root holding `infra/apim/` and `static-docs/`.
    pub root: PathBuf,
    /// `--backend`, if given.
    pub backend: Option<String>,
    /// `--named-value NAME=VALUE` pairs.
    pub named_values: BTreeMap<String, String>,
    /// `--settings-file`, if given.
    pub settings_file: Option<PathBuf>,
}

impl Source {
    /// Build the configuration from the command line values, overridden by the settings
    /// file, and the declarations.
    pub fn load(&self) -> Result<Config> {
        let mut backend = self.backend.clone();
        let mut given = self.named_values.clone();
        if let Some(path) = &self.settings_file {
            let file = read_settings(path)?;
            if file.backend.is_some() {
                backend = file.backend;
            }
            given.extend(file.named_values);
        }
        let backend =
            backend.context("no backend: give --backend or \"backend\" in the settings file")?;
        let backend_base = backend_uri(&backend)?;
        let named = declarations::named_values(&self.root, &given)?;
        let declarations = declarations::load(&self.root, &named)?;
        Ok(Config {
            declarations,
            backend_base,
        })
    }
}

/// The backend URL: `http://host:port`, optionally with a path prefix.
fn backend_uri(text: &str) -> Result<http::Uri> {
    let uri: http::Uri = text
        .parse()
        .map_err(|_| anyhow!("the backend is not a URL: {text:?}"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() || uri.query().is_some() {
        bail!("the backend must be an http:// URL with a host and port, got {text:?}");
    }
    Ok(uri)
}

/// Read the settings file. A JSON error is reported by position and kind only: serde's
/// own message may quote the offending value, and the file holds secrets.
fn read_settings(path: &Path) -> Result<SettingsFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading settings file {}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| {
        anyhow!(
            "settings file {}: line {} column {}: {} (expected {{\"backend\": URL, \
             \"namedValues\": {{NAME: VALUE, ...}}}}, both optional, nothing else)",
            path.display(),
            error.line(),
            error.column(),
            match error.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof =>
                    "not valid JSON",
                _ => "not the expected shape",
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_do_not_quote_values() {
        let dir = std::env::temp_dir().join(format!("apim-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("settings.json");
        for text in [
            r#"{"namedValues": {"backend-key": 12345678}}"#,
            r#"{"namedValues": "secret-text-1234"}"#,
            r#"{"backend": "http://x", "extra-secret-text-1234": 1}"#,
            r#"{"namedValues": {"backend-key": "secret-text-1234"#,
        ] {
            std::fs::write(&path, text).unwrap();
            let error = format!("{:#}", read_settings(&path).unwrap_err());
            assert!(
                !error.contains("1234"),
                "the error quotes the file: {error}"
            );
            assert!(error.contains("settings.json: line 1"), "{error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn backend_must_be_http_with_authority() {
        assert!(backend_uri("http://127.0.0.1:3000").is_ok());
        for bad in [
            "https://x:1",
            "127.0.0.1:3000",
            "http://x:1/?q=1",
            "ftp://x",
        ] {
            assert!(backend_uri(bad).is_err(), "{bad}");
        }
    }
}
