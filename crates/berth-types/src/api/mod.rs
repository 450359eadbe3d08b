//! Request and response bodies of the REST API (`/api/v1`), shared by berthd and the CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::image_servers::{ImageRemote, RemoteImageInfo};
use crate::{Limits, Operation};

mod network;
pub use network::*;

/// `{"error": {...}}` — every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `not_found`, `invalid`, `conflict`, `unavailable`, `internal`, …
    pub code: String,
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `202 Accepted` body of every long action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperationEnvelope {
    pub operation: Operation,
    /// A root password Berth generated for this request: shown here once, stored nowhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /instances`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstanceRequest {
    /// Instance name; generated when absent.
    #[serde(default)]
    #[schema(
        pattern = "^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+(?:-+[a-z0-9]+)+)$",
        max_length = 63
    )]
    pub name: Option<String>,
    /// `debian/12`, `ubuntu/24.04`, or an alias such as `debian:bookworm`; the default image
    /// from the settings when absent.
    #[serde(default)]
    pub image: Option<String>,
    /// Absent fields come from the settings' defaults.
    #[serde(default)]
    pub limits: Limits,
    /// `builtin` (default) or another backend.
    #[serde(default)]
    pub backend: Option<String>,
    /// The OCI runtime the guest runs under, `crun` or `runc`: backend `oci` only (400 naming
    /// `runtime` on another backend, or when the tool is not installed). Default: the
    /// matching routing rule's `runtime`, else `[oci] runtime`. Kept with the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Start with the host; the settings' default when absent.
    #[serde(default)]
    pub autostart: Option<bool>,
    /// Start the instance once created (default true).
    #[serde(default)]
    pub start: Option<bool>,
    /// Root password (8–256 characters); stored only as a hash inside the guest.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 256, pattern = "^\\P{Cc}*$")]
    pub password: Option<String>,
    /// Generate a root password and return it once in the answer.
    #[serde(default)]
    pub generate_password: bool,
    /// OpenSSH public keys for root's `authorized_keys`.
    #[serde(default)]
    pub ssh_keys: Vec<String>,
    /// A wg-quick config for the guest (`/etc/wireguard/wg0.conf`, `wg-quick@wg0` enabled).
    #[serde(default)]
    pub wireguard: Option<String>,
    /// Who the instance belongs to (an admin may create for another user); the caller when
    /// omitted.
    #[serde(default)]
    pub owner: Option<String>,
    /// Backend `proxmox` only: the PVE node to create on; default: `[proxmox] node`, else the
    /// online node with the most free memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `amd64` or `arm64`; the host's when absent. Another architecture than the host's runs
    /// through qemu-user (400 naming `arch` when this host cannot). Backend `proxmox`: passed
    /// to PVE as the container's `arch` (its node runs it; absent: the template's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Run the guest privileged (its root is the host's root); admins only. Default false:
    /// guests get their own user namespace and range of host ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Allow containers inside the guest (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesting: Option<bool>,
}

/// `PUT /instances/{name}/ssh-keys`: root's `authorized_keys`, replaced as a whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SshKeysRequest {
    /// OpenSSH public keys (`ssh-ed25519 AAAA… you@host`); an empty list removes them all.
    #[schema(max_items = 100)]
    pub ssh_keys: Vec<String>,
}

/// `POST /instances/{name}/password`: set a given password, or generate one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    #[serde(default)]
    #[schema(min_length = 8, max_length = 256, pattern = "^\\P{Cc}*$")]
    pub password: Option<String>,
    #[serde(default)]
    pub generate: bool,
}

/// The generated password, shown once; `null` when one was given.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordResponse {
    pub password: Option<String>,
}

/// `PATCH /instances/{name}`: change limits, autostart, schedules and the security flags.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchInstanceRequest {
    #[serde(default)]
    pub limits: Option<Limits>,
    #[serde(default)]
    pub autostart: Option<bool>,
    /// The snapshot schedule; `{"schedule": ""}` turns it off.
    #[serde(default)]
    pub snapshots: Option<crate::snapshot::SnapshotSchedule>,
    /// The backup schedule (`@daily`, cron); `{"schedule": ""}` turns it off.
    #[serde(default)]
    pub backups: Option<BackupSchedule>,
    /// Make the guest privileged or unprivileged (admins only; the instance must be stopped).
    /// Unprivileged → a range of host ids is allocated; the files on disk are not changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Allow containers inside the guest (the instance must be stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesting: Option<bool>,
}

/// When an instance is backed up by itself; `[backups] keep` bounds how many are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupSchedule {
    pub schedule: String,
}

/// Body of `POST /instances/{name}/{stop,restart}` and `DELETE /instances/{name}` (all optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerRequest {
    /// Kill at once instead of asking the guest's init to shut down.
    #[serde(default)]
    pub force: bool,
    /// Seconds to wait for a clean shutdown before killing (default 30, at most 3600).
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u64_at_most::<_, 3600>"
    )]
    #[schema(maximum = 3600)]
    pub timeout: Option<u64>,
}

/// `POST /instances/{name}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// argv; the first element is looked up in the guest's PATH.
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cwd: Option<String>,
    /// Bytes fed to the command's standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Seconds before the command is killed (default 60).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Run as this guest user (a name, or a numeric uid); default root.
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExecResponse {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// True when output went past the cap and was cut.
    pub truncated: bool,
}

/// `POST /images`: build (or rebuild) an image into the cache, or fetch one from an image
/// server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildImageRequest {
    /// `debian/12`, or `SERVER:ALIAS` (`images:alpine/3.20`) for an image server of
    /// `[[images.remotes]]`.
    pub image: String,
    /// Rebuild (fetch again) even when cached.
    #[serde(default)]
    pub force: bool,
    /// `amd64` or `arm64`; the host's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// `?arch=` on `GET`/`DELETE /images/{alias}`: the host's architecture when absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImageArchQuery {
    /// `amd64` or `arm64`.
    #[serde(default)]
    pub arch: Option<String>,
}

/// An image in the library.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ImageInfo {
    /// Canonical alias, `debian/12`.
    pub alias: String,
    pub distro: String,
    pub version: String,
    pub codename: String,
    pub arch: String,
    /// `cached` when built, `missing` when it must be built first, `imported` for an
    /// application image (`oci:ALIAS`, from `POST /images/import`).
    pub status: String,
    pub size: Option<u64>,
    pub built_at: Option<DateTime<Utc>>,
    /// `lts`, `current` or `rolling` for a catalogue release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where it came from: the apt sources it was built from, or the image server's URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Packages installed in it, when known (`package_manager` says whose count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<u32>,
    /// The package database counted: `dpkg` (Debian, Ubuntu) or `apk` (Alpine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<String>,
    /// Where it came from, in words: `built by Berth from http://deb.debian.org/debian`,
    /// `fetched from image server images (https://…), product alpine:3.20:amd64:default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The sha256 of what was downloaded, checked against the server's index before it was
    /// unpacked (fetched images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One runtime backend and whether this host can use it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackendInfo {
    pub name: String,
    pub usable: bool,
    /// Why not, when unusable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /system`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SystemInfo {
    pub version: String,
    pub arch: String,
    pub hostname: String,
    pub kernel: String,
    /// The CPU model as `/proc/cpuinfo` names it (`unknown` when it does not).
    pub cpu_model: String,
    /// CPUs this daemon may use.
    pub cpus: usize,
    /// Total memory in bytes.
    pub memory: u64,
    /// Memory available for new work in bytes (`MemAvailable`).
    pub memory_available: u64,
    /// Seconds since the host booted.
    pub uptime_seconds: u64,
    /// `v1-hybrid`, `v1` or `v2`.
    pub cgroup: String,
    /// Storage driver of the default pool: `btrfs` or `dir`.
    pub storage_driver: String,
    pub storage_path: String,
    pub storage_used: Option<u64>,
    pub storage_free: Option<u64>,
    /// Every storage pool (today: the one `[storage]` configures).
    pub storage_pools: Vec<StoragePoolInfo>,
    /// What the kernel offers Berth.
    pub capabilities: KernelCapabilities,
    pub default_backend: String,
    pub backends: Vec<BackendInfo>,
    pub instances: usize,
    /// How many more local guests the host can take, and which limit comes first.
    #[serde(default)]
    pub capacity: crate::capacity::CapacityLeft,
    /// The machine itself — uptime, CPU, kernel, load average, memory, each pool's file
    /// system — for admins only (absent for other callers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::host::HostView>,
}

/// One storage pool and its space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoragePoolInfo {
    pub name: String,
    /// `btrfs` or `dir`.
    pub driver: String,
    pub path: String,
    /// Bytes used and free; absent when the pool cannot be measured.
    pub used: Option<u64>,
    pub free: Option<u64>,
}

/// Kernel features Berth uses, each available or why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KernelCapabilities {
    /// btrfs: instant CoW clones, snapshots and disk limits.
    pub btrfs: CapabilityInfo,
    /// overlayfs.
    pub overlay: CapabilityInfo,
    /// `sit` links, for 6in4 IPv6 uplinks.
    pub sit: CapabilityInfo,
    /// Kernel WireGuard (guests' own `wg0`); the host uplink falls back to userspace.
    pub wireguard: CapabilityInfo,
    /// `/dev/net/tun`, for userspace WireGuard.
    pub tun: CapabilityInfo,
    /// nf_tables and the `nft` tool, for NAT and port forwards.
    pub nftables: CapabilityInfo,
}

/// `GET /instances/{name}/files?path=DIR`: the directory's entry names.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileListing {
    pub entries: Vec<String>,
}

/// Query of `GET /instances/{name}/console` (a WebSocket).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsoleQuery {
    /// `console` (default: the guest's /dev/console, shared), `shell` (a root login shell of
    /// your own) or `exec` (run `command`).
    #[serde(default)]
    pub mode: Option<String>,
    /// With `mode=exec`: the argv as a JSON array, e.g. `["top"]`.
    #[serde(default)]
    pub command: Option<String>,
    /// Initial terminal size (default 24×80).
    #[serde(default)]
    pub rows: Option<u16>,
    #[serde(default)]
    pub cols: Option<u16>,
    /// `TERM` inside (default `xterm-256color`).
    #[serde(default)]
    pub term: Option<String>,
    /// For a browser session: its CSRF token (a WebSocket cannot carry the header).
    #[serde(default)]
    pub csrf: Option<String>,
}

/// Control messages of the console WebSocket, as text frames (terminal bytes are binary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleControl {
    /// Client → server: the terminal's new size.
    Resize { rows: u16, cols: u16 },
    /// Server → client: the session ended with this exit code (-1: unknown).
    Exit { code: i32 },
}

/// One backup of an instance (`GET /instances/{name}/backups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Backup {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// Bytes of the compressed archive.
    pub size: u64,
}

/// Query of `POST /instances` with a backup archive as the body (`Content-Type:
/// application/zstd`): the new instance's name, else the one in the backup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    #[serde(default)]
    #[schema(
        pattern = "^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+(?:-+[a-z0-9]+)+)$",
        max_length = 63
    )]
    pub name: Option<String>,
}

/// `POST /instances/{name}/backups`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBackupRequest {
    /// Include the instance's snapshots (they come back as snapshots on import).
    #[serde(default)]
    pub snapshots: bool,
}

/// `POST /instances/{name}/backups/{id}/restore`: the backup comes back as a new instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBackupRequest {
    /// The new instance's name (the backed-up one still exists).
    #[schema(
        pattern = "^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+(?:-+[a-z0-9]+)+)$",
        max_length = 63
    )]
    pub name: String,
}

/// `POST /images/import?alias=NAME`: an application image imported from an OCI layout or
/// docker archive, as `berth run oci:NAME` runs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportedImage {
    pub alias: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
}

/// `?alias=` of `POST /images/import`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportImageQuery {
    /// `[a-z0-9][a-z0-9._-]*`, up to 63 characters.
    pub alias: String,
}

/// `POST /run`: run an imported image's entrypoint once (app-container semantics) on the
/// oci backend and return its output; nothing is kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// `oci:ALIAS`.
    pub image: String,
    /// Replaces the image's Cmd (the entrypoint stays), as `docker run IMAGE ARGS…` does.
    #[serde(default)]
    pub command: Vec<String>,
    /// Added to the image's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Memory limit in bytes (at most 16 TiB).
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u64_at_most::<_, 17592186044416>"
    )]
    #[schema(maximum = 17592186044416_u64)]
    pub memory: Option<u64>,
    /// Seconds before the container is killed (default 60, at most a day).
    #[serde(
        default,
        deserialize_with = "crate::bounded::opt_u64_at_most::<_, 86400>"
    )]
    #[schema(maximum = 86400)]
    pub timeout: Option<u64>,
}
