//! The Spin entry point: WASI request in, [`router::handle`] out. Nothing else lives here.
//!
//! The raw `IncomingRequest` is read (not spin-sdk's `http::Request` conversion, which
//! folds repeated headers into one) so a duplicated `x-backend-key` is seen and refused.
//! The request body is never read: no route takes one.
//!
//! The response is written to the `ResponseOutparam` directly (the streaming form of
//! spin-sdk 5.2's `ResponseOutparam` docs), so an embedded asset goes from the
//! component's data section to the host's stream without a copy in linear memory (the
//! returned-`Response` form takes an owned `Vec`, which cost a 0.5 MB copy, and the memory
//! growth for it, on every request for the Swagger UI bundle). Every header value is sent,
//! repeats included.

use spin_sdk::http::{
    Fields, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

use crate::config::{VariableError, Variables};
use crate::problem::Problem;
use crate::response::Response;
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
fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
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
    // HEAD keeps the GET body's Content-Length with no body, so the host's length check at
    // `finish` fails by design (RFC 9110 9.3.2): not an error worth a log line.
    let head = matches!(request.method(), WasiMethod::Head);
    if send(response, response_out).is_err() && !head {
        // The client went away or the host refused the response; nothing left to tell.
        eprintln!("name-api: the response could not be written");
    }
}

/// Status and headers to the outparam, then the body from where it lies.
fn send(response: Response, response_out: ResponseOutparam) -> Result<(), ()> {
    let (parts, body) = response.into_parts();
    let entries: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries).map_err(|_| ())?;
    let outgoing = OutgoingResponse::new(headers);
    outgoing.set_status_code(parts.status.as_u16())?;
    let outgoing_body = outgoing.body()?;
    response_out.set(outgoing);
    write_all(&outgoing_body, &body)?;
    OutgoingBody::finish(outgoing_body, None).map_err(|_| ())
}

/// Write `bytes` as the host accepts them (`check-write` permits, waiting when it permits
/// none), then flush. The host copies out of linear memory; nothing is copied here.
fn write_all(body: &OutgoingBody, bytes: &[u8]) -> Result<(), ()> {
    let stream = body.write()?;
    let mut rest = bytes;
    while !rest.is_empty() {
        let permitted = stream.check_write().map_err(|_| ())?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let (now, later) = rest.split_at(rest.len().min(permitted as usize));
        stream.write(now).map_err(|_| ())?;
        rest = later;
    }
    stream.blocking_flush().map_err(|_| ())
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
