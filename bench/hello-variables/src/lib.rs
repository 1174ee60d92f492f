//! The hello-world floor plus `N` Spin variable reads per request (`GET /reads/N`, N from
//! 0 to 6): what one `variables::get` costs on a given Spin variables provider, measured
//! against the floor in the same run (`cargo xtask bench`, rows `s-v*`). name-api's
//! design (read lazily, one read for a production request) rests on these figures.

use spin_sdk::http::{IntoResponse, Request, Response};

/// The variables `spin.toml` beside this crate declares, read in this order.
const VARIABLES: [&str; 6] = ["v1", "v2", "v3", "v4", "v5", "v6"];

#[spin_sdk::http_component]
fn handle(request: Request) -> impl IntoResponse {
    let reads = request
        .path()
        .strip_prefix("/reads/")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n <= VARIABLES.len());
    let Some(reads) = reads else {
        return Response::builder()
            .status(404)
            .body("expected /reads/N with N from 0 to 6")
            .build();
    };
    // The values' total length keeps the reads from being optimised away.
    let mut bytes = 0;
    for name in &VARIABLES[..reads] {
        match spin_sdk::variables::get(name) {
            Ok(value) => bytes += value.len(),
            Err(_) => {
                return Response::builder()
                    .status(500)
                    .body("variable read failed")
                    .build()
            }
        }
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"Hello\",\"bytes\":{bytes}}}"))
        .build()
}
