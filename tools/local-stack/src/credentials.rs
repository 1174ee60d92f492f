//! The component's production configuration for one local run, in the three forms the
//! local stack needs: Spin variables for `wasmtime serve` (the composed plug reads them as
//! `SPIN_VARIABLE_*`), a Spin runtime config with a static variables provider for `spin up`
//! (Spin's environment provider costs about 25 ms per read; README, "Spin"), and the
//! emulator's named values. Secrets go into the environment or a 0600 file, never argv.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::host::spin_variable_env;
use crate::repo_root;

/// The two gateway credentials (SPEC section 4): one per APIM API.
#[derive(Clone)]
pub struct Credentials {
    /// `backend_key`: injected by the `api` API, reaches every route.
    pub api: String,
    /// `docs_backend_key`: injected by the `public` API, reaches only the docs.
    pub docs: String,
}

impl Credentials {
    /// The component's Spin variables in the production shape (as spin.toml names them).
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        vec![
            ("backend_key", self.api.clone()),
            ("docs_backend_key", self.docs.clone()),
            ("require_backend_key", "true".to_owned()),
            ("api_base", "/api".to_owned()),
        ]
    }

    /// [`Self::variables`] as `SPIN_VARIABLE_<NAME>` pairs, for programs that read them
    /// from their environment themselves (`spin up`'s environment provider, the native
    /// baselines); [`crate::wasmtime_serve`] takes [`Self::variables`].
    pub fn env(&self) -> Vec<(String, String)> {
        self.variables()
            .into_iter()
            .map(|(name, value)| (spin_variable_env(name), value))
            .collect()
    }

    /// The emulator's secret named values (`backend-key`, `docs-backend-key`), each one
    /// only if `infra/apim/named-values.json` declares it (the emulator refuses undeclared
    /// names).
    pub fn named_values(&self) -> Vec<(&'static str, String)> {
        let declared = std::fs::read_to_string(repo_root().join("infra/apim/named-values.json"))
            .unwrap_or_default();
        [("backend-key", &self.api), ("docs-backend-key", &self.docs)]
            .into_iter()
            .filter(|(name, _)| declared.contains(&format!("\"name\": \"{name}\"")))
            .map(|(name, value)| (name, value.clone()))
            .collect()
    }
}

/// A Spin runtime config file whose static variables provider answers `variables`:
/// created 0600 in the temporary directory, removed when dropped.
pub struct RuntimeConfigFile {
    pub path: PathBuf,
}

impl RuntimeConfigFile {
    pub fn write(variables: &[(&str, String)]) -> Result<RuntimeConfigFile> {
        let path = std::env::temp_dir().join(format!(
            "name-api-runtime-config-{}-{}.toml",
            std::process::id(),
            unique()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(static_provider_toml(variables).as_bytes())?;
        Ok(RuntimeConfigFile { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RuntimeConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `[[variables_provider]] type = "static"` with `values` (Spin 3.4+,
/// crates/runtime-config/src/variables.rs): Spin asks it before the environment provider.
pub fn static_provider_toml(variables: &[(&str, String)]) -> String {
    let mut text =
        String::from("[[variables_provider]]\ntype = \"static\"\n\n[variables_provider.values]\n");
    for (name, value) in variables {
        text.push_str(&format!("{name} = {}\n", toml_string(value)));
    }
    text
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn runtime_config_is_private_valid_and_removed() {
        let tricky = "a\"b\\c\nd".to_owned();
        let file = RuntimeConfigFile::write(&[
            ("backend_key", tricky.clone()),
            ("api_base", "/api".to_owned()),
        ])
        .unwrap();
        let path = file.path().to_owned();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "[[variables_provider]]\ntype = \"static\"\n\n[variables_provider.values]\n\
             backend_key = \"a\\\"b\\\\c\\u000Ad\"\napi_base = \"/api\"\n"
        );
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn env_names_follow_spins_rule() {
        let credentials = Credentials {
            api: "a".into(),
            docs: "d".into(),
        };
        let env = credentials.env();
        assert!(env.contains(&("SPIN_VARIABLE_BACKEND_KEY".into(), "a".into())));
        assert!(env.contains(&("SPIN_VARIABLE_DOCS_BACKEND_KEY".into(), "d".into())));
        assert!(env.contains(&("SPIN_VARIABLE_REQUIRE_BACKEND_KEY".into(), "true".into())));
    }

    #[test]
    fn named_values_are_the_declared_credentials() {
        let credentials = Credentials {
            api: "a".into(),
            docs: "d".into(),
        };
        assert_eq!(
            credentials.named_values(),
            [
                ("backend-key", "a".to_owned()),
                ("docs-backend-key", "d".to_owned())
            ]
        );
    }
}
