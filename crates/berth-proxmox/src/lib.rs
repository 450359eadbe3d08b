//! Proxmox VE for Berth: an HTTPS API client (token auth, pinned certificate, typed calls, task
//! polling), the PVE API schema used to validate requests, and (feature `double`) a test double
//! of a PVE node or cluster that tests and the UI can run against.

pub mod client;
mod formats;
pub mod pct;
pub mod placement;
pub mod schema;
pub mod upid;

#[cfg(feature = "double")]
pub mod double;

pub use client::{Client, ClientConfig, ProxmoxError, Secret, Trust};
pub use upid::Upid;
