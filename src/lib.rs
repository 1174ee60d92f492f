//! name-api: a random-name HTTP API as a Spin WebAssembly component.
//!
//! Everything except [`spin_entry`] is plain Rust over `http` types and unit-tests natively
//! (`cargo test`). The Spin-specific part is only the entry point: it turns the WASI request
//! into `http` parts, reads configuration through Spin variables and hands over to
//! [`router::handle`].
//!
//! Where things live: [`request`] (the host's request as `http` parts), [`router`] (routes,
//! methods, HEAD), [`query`] (`starts_with` parsing), [`letters`] (the character rule),
//! [`names`] (the list and the draw), [`auth`] (backend key), [`config`] (Spin variables),
//! [`openapi`] and [`docs`] (embedded documents), [`problem`] (every error body),
//! [`contract`] (constants shared with the OpenAPI generator).

pub mod auth;
pub mod config;
pub mod contract;
pub mod docs;
mod embedded;
pub mod letters;
mod letters_table;
pub mod names;
mod names_list;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod request;
pub mod response;
pub mod router;

#[cfg(all(target_arch = "wasm32", feature = "spin"))]
mod spin_entry;
