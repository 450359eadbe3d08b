//! API bodies for image servers (simplestreams, as Incus and LXC use): the configured servers
//! and one server's catalogue. Re-exported from [`crate::api`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /images/remotes`: an image server from `[[images.remotes]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImageRemote {
    /// What `NAME:alias` refers to, `images`.
    pub name: String,
    /// The server's base URL (`streams/v1/index.json` is under it).
    pub url: String,
}

/// `GET /images/remotes/{name}`: one image a server offers, at its latest version with a
/// root filesystem Berth can unpack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RemoteImageInfo {
    /// The canonical alias, `alpine/3.20/default`; use it as `REMOTE:ALIAS`.
    pub alias: String,
    /// Every alias the server gives it.
    pub aliases: Vec<String>,
    /// The server's product id, `alpine:3.20:amd64:default`.
    pub product: String,
    pub os: String,
    pub release: String,
    pub variant: String,
    /// `amd64` or `arm64`.
    pub arch: String,
    /// The latest version (`20240601_13:00`).
    pub version: String,
    /// How the root filesystem is packed: `root.tar.xz`, `incus_combined.tar.gz`, `squashfs`, …
    pub ftype: String,
    /// Bytes to download.
    pub size: u64,
    /// When this alias and architecture were fetched into the cache; absent when they were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<DateTime<Utc>>,
}
