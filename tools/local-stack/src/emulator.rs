//! `apim-emulator`, the local stand-in for API Management, in front of a backend.
//!
//! Everything it is given goes through its environment (`APIM_EMULATOR_*`, see its
//! `main.rs`): the subscription keys and the named values are secrets, and a process's
//! arguments are visible to every user of the machine.

use std::path::Path;
use std::process::Command;

/// `apim-emulator` on `listen` (`127.0.0.1:PORT`) in front of `backend` (`http://...`),
/// with the API declarations and policies under `root` (the repository root, or a copy a
/// test altered), the subscription `keys`, and the `named_values` (`("backend-key", ...)`).
/// Add further `APIM_EMULATOR_*` settings (tier, timeouts, settings file) with `.env`.
pub fn emulator_command<K: AsRef<str>, N: AsRef<str>, V: AsRef<str>>(
    emulator: &Path,
    root: &Path,
    listen: &str,
    backend: &str,
    keys: &[K],
    named_values: &[(N, V)],
) -> Command {
    let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
    let named: Vec<String> = named_values
        .iter()
        .map(|(name, value)| format!("{}={}", name.as_ref(), value.as_ref()))
        .collect();
    let mut cmd = Command::new(emulator);
    cmd.env("APIM_EMULATOR_LISTEN", listen)
        .env("APIM_EMULATOR_BACKEND", backend)
        .env("APIM_EMULATOR_SUBSCRIPTION_KEYS", keys.join(","))
        .env("APIM_EMULATOR_NAMED_VALUES", named.join(","))
        .env("APIM_EMULATOR_ROOT", root);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_goes_through_the_environment() {
        let cmd = emulator_command(
            Path::new("apim-emulator"),
            Path::new("/repo"),
            "127.0.0.1:8080",
            "http://127.0.0.1:3000",
            &["primary", "secondary"],
            &[("backend-key", "b"), ("rate-limit-calls", "5")],
        );
        assert_eq!(cmd.get_args().count(), 0);
        let env: Vec<(String, String)> = cmd
            .get_envs()
            .map(|(n, v)| {
                let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
                (text(n), v.map(text).unwrap_or_default())
            })
            .collect();
        let expected = [
            ("APIM_EMULATOR_BACKEND", "http://127.0.0.1:3000"),
            ("APIM_EMULATOR_LISTEN", "127.0.0.1:8080"),
            (
                "APIM_EMULATOR_NAMED_VALUES",
                "backend-key=b,rate-limit-calls=5",
            ),
            ("APIM_EMULATOR_ROOT", "/repo"),
            ("APIM_EMULATOR_SUBSCRIPTION_KEYS", "primary,secondary"),
        ];
        for (name, value) in expected {
            assert!(
                env.contains(&(name.to_owned(), value.to_owned())),
                "{name} missing from {env:?}"
            );
        }
    }
}
