//! Budgets that keep berthd answering under load and abuse: connections (TCP in all, per
//! client address, and the unix socket apart), WebSockets, and failing accepts. The numbers
//! come from `[server]`.

pub mod connections;
pub mod websockets;

pub use connections::{ConnectionLimiter, ConnectionPermit, Refused};
pub use websockets::{WebSocketLimiter, WebSocketPermit};
