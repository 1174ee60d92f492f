//! A plug component that implements Spin's `fermyon:spin/variables@2.0.0` from the
//! environment, the same way Spin itself reads `SPIN_VARIABLE_<NAME>`.
//!
//! `wasmtime serve` (and other plain WASI HTTP hosts) do not provide Spin's variables
//! interface, and a component importing it fails to instantiate there. `cargo xtask build`
//! composes the *unmodified* name-api component with this plug (`wac-graph`), so the very
//! same component bytes that Spin runs also run under `wasmtime serve -Scli --env
//! SPIN_VARIABLE_BACKEND_KEY=...`. Error texts name variables, never values.

wit_bindgen::generate!({ path: "wit", world: "env-variables-plug" });

use exports::fermyon::spin::variables::{Error, Guest};

struct EnvVariables;

impl Guest for EnvVariables {
    fn get(name: String) -> Result<String, Error> {
        // Spin's rule for variable names: lowercase ASCII letters, digits and underscores,
        // starting with a letter.
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(Error::InvalidName(name));
        }
        let key = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
        match std::env::var(&key) {
            Ok(value) => Ok(value),
            Err(std::env::VarError::NotPresent) => Err(Error::Undefined(format!(
                "no value for variable `{name}` (environment variable {key} is not set)"
            ))),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Provider(format!(
                "environment variable {key} is not valid UTF-8"
            ))),
        }
    }
}

export!(EnvVariables);
