//! berthd as a library: configuration, the app layer, the HTTP API and the server, so tests
//! drive the same code the binary runs.

pub mod api;
pub mod app;
pub mod config;
pub mod host;
pub mod limits;
pub mod listen;
pub mod logging;
pub mod server;
pub mod web;
