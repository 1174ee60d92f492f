//! The Spin entry point: WASI request in, [`router::handle`] out. Nothing else lives here.
//!
//! The raw `IncomingRequest` is read (not spin-sdk's `http::Request` conversion, which
//! folds repeated headers into one) so a duplicated `x-backend-key` is seen and refused.
//! The request body is never read: no route takes one.

use spin_sdk::http::{IncomingRequest, Method as WasiMethod};

use crate::config::{VariableError, Variables};
use crate::problem::Problem;
use crate::router;

/// Configuration through Spin's variables interface (`fermyon:spin/variables@2.0.0`).
struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        use spin_sdk::variables::Error;
        match spin_sdk::variables::get(name) {
            Ok(value) => Ok(Some(value)),
            Err(Error::Undefined(_)) => Ok(None),
            // Provider texts are not logged or returned: they could quote configuration.
            Err(Error::InvalidName(_)) => Err(VariableError("invalid name".into())),
            Err(Error::Provider(_)) => Err(VariableError("provider error".into())),
            Err(Error::Other(_)) => Err(VariableError("other error".into())),
        }
    }
}

#[spin_sdk::http_component]
fn handle(request: IncomingRequest) -> http::Response<Vec<u8>> {
    let response = match request_parts(&request) {
        Some(parts) =>
        // wasi:random/random cannot fail, so `UnwrapErr` never panics on WASI.
        {
            router::handle(
                &parts,
                &SpinVariables,
                &mut rand::rand_core::UnwrapErr(rand::rngs::SysRng),
            )
        }
        // Unreachable through a conforming host: it already parsed method, path and headers.
        None => Problem::NotFound.into_response(),
    };
    response.map(|body| body.into_owned())
}

/// Method, path-and-query and every header (repeats kept), as `http` parts.
fn request_parts(request: &IncomingRequest) -> Option<http::request::Parts> {
    let method = match request.method() {
        WasiMethod::Get => "GET".to_owned(),
        WasiMethod::Head => "HEAD".to_owned(),
        WasiMethod::Post => "POST".to_owned(),
        WasiMethod::Put => "PUT".to_owned(),
        WasiMethod::Delete => "DELETE".to_owned(),
        WasiMethod::Connect => "CONNECT".to_owned(),
        WasiMethod::Options => "OPTIONS".to_owned(),
        WasiMethod::Trace => "TRACE".to_owned(),
        WasiMethod::Patch => "PATCH".to_owned(),
        WasiMethod::Other(other) => other,
    };
    let headers = request.headers().entries();
    crate::request::parts(
        &method,
        request.path_with_query().as_deref(),
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice())),
    )
}
