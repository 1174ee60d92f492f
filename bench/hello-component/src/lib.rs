//! The smallest spin-sdk 5.2 HTTP component: the floor that per-request instantiation of a
//! `wasi:http@0.2` component sets on this machine. name-api's own cost is what it adds.

use spin_sdk::http::{IntoResponse, Request, Response};

#[spin_sdk::http_component]
fn handle(_request: Request) -> impl IntoResponse {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body("{\"name\":\"Hello\"}")
        .build()
}
