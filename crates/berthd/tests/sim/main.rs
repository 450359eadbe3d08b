//! The fast tier, one binary: every API and app test against an in-process daemon on the
//! sim backend (its own storage, no root, no guests), and the OpenAPI staleness check. The
//! real-container tests are the other files beside `sim/` (they need root and build guests).

#[path = "../common/auth_support.rs"]
mod auth_support;
#[path = "../common/mod.rs"]
mod common;
#[path = "../common/events_support.rs"]
mod events_support;
#[path = "../common/metrics_support.rs"]
mod metrics_support;
#[path = "../common/pytools.rs"]
mod pytools;
#[path = "../common/streams_support.rs"]
mod streams_support;

mod alerts;
mod api;
mod app_access;
mod audit;
mod auth;
mod bounds;
mod capacity;
mod crash;
mod credentials;
mod events;
mod events_credentials;
mod fuzz_seeds;
mod health;
mod host;
mod idmap;
mod image_servers;
mod list;
mod metrics;
mod network;
mod openapi;
mod operations;
mod proxmox;
mod proxmox_live;
mod proxmox_ssh;
mod proxmox_state;
mod purge;
mod routes;
mod runtime_choice;
mod security;
mod sessions;
mod settings;
mod snapshots;
mod states;
mod throttle;
mod web;
