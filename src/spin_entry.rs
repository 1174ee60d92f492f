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
        WasiMethod::Get => http::Method::GET,
        WasiMethod::Head => http::Method::HEAD,
        WasiMethod::Post => http::Method::POST,
        WasiMethod::Put => http::Method::PUT,
        WasiMethod::Delete => http::Method::DELETE,
        WasiMethod::Connect => http::Method::CONNECT,
        WasiMethod::Options => http::Method::OPTIONS,
        WasiMethod::Trace => http::Method::TRACE,
        WasiMethod::Patch => http::Method::PATCH,
        WasiMethod::Other(other) => http::Method::from_bytes(other.as_bytes()).ok()?,
    };
    let uri = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    Some(builder.body(()).ok()?.into_parts().0)
}
