//! Experiment, not the product: name-api's own handler (`router::handle`) behind a
//! `wasi:http@0.3` entry point (spin-sdk 7.0), so `cargo xtask bench` can show what a p3
//! build would gain. `wasmtime serve` 48 reuses p3 instances across requests instead of
//! instantiating one per request. Spin 4.0.2 does not run `wasi:http@0.3.0` final yet
//! (see NOTES), so the product stays on p2. Configuration comes from `SPIN_VARIABLE_*`
//! environment variables here, not Spin variables (spin-sdk 7 imports a different
//! variables interface than the p2 plug provides).

use std::borrow::Cow;

use bytes::Bytes;
use http_body_util::Full;
use name_api::config::{VariableError, Variables};
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

struct EnvVariables;

impl Variables for EnvVariables {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        Ok(std::env::var(format!("SPIN_VARIABLE_{}", name.to_uppercase())).ok())
    }
}

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let (parts, _body) = request.into_parts();
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    let response = name_api::router::handle(&parts, &EnvVariables, &mut rng);
    response.map(|body| {
        Full::new(match body {
            Cow::Borrowed(bytes) => Bytes::from_static(bytes),
            Cow::Owned(bytes) => Bytes::from(bytes),
        })
    })
}
