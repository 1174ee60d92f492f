//! name-api's handler on a native hyper server: the benchmark's upper bound, showing the
//! price of per-request isolation in WebAssembly. Same routing, names, docs and auth code
//! (`name_api::router::handle`); configuration from `SPIN_VARIABLE_*` like the plug.
//!
//! `native-baseline 127.0.0.1:PORT`

use std::borrow::Cow;
use std::convert::Infallible;

use bytes::Bytes;

use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use name_api::config::{VariableError, Variables};
use tokio::net::TcpListener;

/// Spin variables from the environment, as `tools/spin-variables-env` answers them.
struct EnvVariables;

impl Variables for EnvVariables {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        Ok(std::env::var(format!("SPIN_VARIABLE_{}", name.to_uppercase())).ok())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("native-baseline: listening on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(
                |request: hyper::Request<hyper::body::Incoming>| async move {
                    let (parts, _body) = request.into_parts();
                    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
                    let response = name_api::router::handle(&parts, &EnvVariables, &mut rng);
                    // Embedded assets stay borrowed: no copy of the Swagger UI bundle per request.
                    Ok::<_, Infallible>(response.map(|body| {
                        Full::new(match body {
                            Cow::Borrowed(bytes) => Bytes::from_static(bytes),
                            Cow::Owned(bytes) => Bytes::from(bytes),
                        })
                    }))
                },
            );
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
