//! Root's credentials in a Proxmox container, over SSH to its node: PVE's API cannot run a
//! command in a container, `pct exec` on the node can. The system `ssh` client connects with
//! the configured key (`BatchMode`, no agent, no forwarding) and trusts only the node's pinned
//! host key: Berth writes it to a private `known_hosts` for each connection
//! (`StrictHostKeyChecking=yes`, `HostKeyAlias` = node name), so an unknown or changed key ends
//! the connection before anything is sent. What is secret goes on stdin, never on a command line.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use berth_proxmox::pct;
use berth_types::InstanceName;
use tokio::io::AsyncWriteExt;

use super::{ProxmoxRuntime, unreachable};
use crate::{GuestCredentials, Runtime, RuntimeError, RuntimeStatus};

/// `[proxmox.ssh]`: how Berth reaches the nodes' shells.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// The user on the nodes (`root`: `pct` needs it).
    pub user: String,
    /// The private key (0600, owned by berthd's user).
    pub identity_file: PathBuf,
    pub port: u16,
    /// Node name → its host key (`ssh-ed25519 AAAA…`), the only key accepted for it.
    pub host_keys: BTreeMap<String, String>,
    /// Node name → address, instead of the one `/cluster/status` gives.
    pub addresses: BTreeMap<String, String>,
    pub connect_timeout: Duration,
    /// How long one `pct exec` may take, connection included.
    pub command_timeout: Duration,
}

/// What to configure when `[proxmox.ssh]` is absent.
const CONFIGURE: &str = "configure [proxmox.ssh] (user, identity_file, host_keys) so Berth \
     can run `pct exec` on the nodes; see docs/CONFIGURATION.md";

impl ProxmoxRuntime {
    /// Sets root's password hash and/or authorized keys in `name`, which must be running.
    pub(super) async fn set_credentials_over_ssh(
        &self,
        name: &InstanceName,
        credentials: &GuestCredentials,
    ) -> Result<(), RuntimeError> {
        let Some(ssh) = &self.settings.ssh else {
            return Err(RuntimeError::NotConfigured {
                backend: "proxmox",
                name: name.clone(),
                action: "change root's credentials in",
                configure: CONFIGURE,
            });
        };
        let (node, vmid) = self.located(name).await?;
        if !matches!(self.status(name).await?, RuntimeStatus::Running { .. }) {
            return Err(RuntimeError::NotRunning(name.clone()));
        }
        let host_key = ssh
            .host_keys
            .get(&node)
            .ok_or_else(|| RuntimeError::NotConfigured {
                backend: "proxmox",
                name: name.clone(),
                action: "change root's credentials in",
                configure: "pin the host key of the node it runs on in [proxmox.ssh] host_keys \
                        (NODE = \"ssh-ed25519 AAAA…\", from /etc/ssh/ssh_host_ed25519_key.pub)",
            })?;
        let address = self.node_address(ssh, &node).await?;
        let target = Target {
            ssh,
            node: &node,
            address: &address,
            host_key,
        };
        if let Some(hash) = &credentials.password_hash {
            let stdin = format!("root:{hash}\n");
            target
                .run(name, &pct::exec_line(vmid, pct::CHPASSWD), stdin.as_bytes())
                .await?;
            tracing::info!(instance = %name, %node, vmid, "root password set over ssh (pct exec)");
        }
        if let Some(keys) = &credentials.ssh_keys {
            let mut text = keys.iter().map(|k| k.trim()).collect::<Vec<_>>().join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            target
                .run(name, &pct::authorized_keys_line(vmid), text.as_bytes())
                .await?;
            tracing::info!(instance = %name, %node, vmid, keys = keys.len(), "root's ssh keys set over ssh (pct exec)");
        }
        Ok(())
    }

    /// The configured address of `node`, else the one PVE resolved (`/cluster/status`).
    async fn node_address(&self, ssh: &SshSettings, node: &str) -> Result<String, RuntimeError> {
        if let Some(address) = ssh.addresses.get(node) {
            return Ok(address.clone());
        }
        let members = self.client.cluster_status().await.map_err(unreachable)?;
        members
            .into_iter()
            .find(|m| m.kind == "node" && m.name == node)
            .and_then(|m| m.ip)
            .ok_or_else(|| RuntimeError::Backend {
                backend: "proxmox",
                reason: format!(
                    "proxmox at {}: /cluster/status gives no address for node {node}; \
                     set it in [proxmox.ssh] addresses",
                    self.url()
                ),
            })
    }
}

/// One node to run commands on.
struct Target<'a> {
    ssh: &'a SshSettings,
    node: &'a str,
    address: &'a str,
    host_key: &'a str,
}

impl Target<'_> {
    /// Runs `line` on the node with `stdin`; fails with its stderr unless it exits 0.
    async fn run(&self, name: &InstanceName, line: &str, stdin: &[u8]) -> Result<(), RuntimeError> {
        let known_hosts =
            KnownHosts::write(self.node, self.host_key).map_err(|e| io("known_hosts", e))?;
        let mut command = tokio::process::Command::new("ssh");
        command
            .args(["-F", "/dev/null", "-T", "-x", "-a"])
            .arg("-i")
            .arg(&self.ssh.identity_file)
            .args(["-p", &self.ssh.port.to_string(), "-l", &self.ssh.user]);
        for option in [
            "BatchMode=yes".to_owned(),
            "StrictHostKeyChecking=yes".to_owned(),
            format!("UserKnownHostsFile={}", known_hosts.path().display()),
            "GlobalKnownHostsFile=/dev/null".to_owned(),
            format!("HostKeyAlias={}", self.node),
            "CheckHostIP=no".to_owned(),
            "UpdateHostKeys=no".to_owned(),
            "IdentitiesOnly=yes".to_owned(),
            "PasswordAuthentication=no".to_owned(),
            "KbdInteractiveAuthentication=no".to_owned(),
            "ClearAllForwardings=yes".to_owned(),
            format!(
                "ConnectTimeout={}",
                self.ssh.connect_timeout.as_secs().max(1)
            ),
            "LogLevel=ERROR".to_owned(),
        ] {
            command.arg("-o").arg(option);
        }
        command
            .arg("--")
            .arg(self.address)
            .arg(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| io("ssh", e))?;
        if let Some(mut input) = child.stdin.take() {
            // A node that refuses the connection closes the pipe early: its error is ssh's.
            let _ = input.write_all(stdin).await;
        }
        let output = tokio::time::timeout(self.ssh.command_timeout, child.wait_with_output())
            .await
            .map_err(|_| RuntimeError::Failed {
                name: name.clone(),
                action: "running pct exec",
                reason: format!(
                    "ssh to node {} ({}) did not finish within {} s",
                    self.node,
                    self.address,
                    self.ssh.command_timeout.as_secs()
                ),
            })?
            .map_err(|e| io("ssh", e))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        if stderr.contains("Host key verification failed") {
            // Not this host's fault: the node (or something in between) is not the one pinned.
            return Err(RuntimeError::Backend {
                backend: "proxmox",
                reason: format!(
                    "node {} ({}:{}) offered a host key other than the one pinned in \
                     [proxmox.ssh] host_keys.{}; nothing was sent. Check the node's \
                     /etc/ssh/ssh_host_ed25519_key.pub and pin that",
                    self.node, self.address, self.ssh.port, self.node
                ),
            });
        }
        if stderr.contains("Permission denied") {
            return Err(RuntimeError::Backend {
                backend: "proxmox",
                reason: format!(
                    "node {} ({}:{}) refused {} with the key in [proxmox.ssh] identity_file \
                     {}; add its public half to the node's /root/.ssh/authorized_keys",
                    self.node,
                    self.address,
                    self.ssh.port,
                    self.ssh.user,
                    self.ssh.identity_file.display()
                ),
            });
        }
        if output.status.code() == Some(255) {
            return Err(RuntimeError::Unreachable {
                backend: "proxmox",
                reason: format!(
                    "ssh to node {} ({}:{}) as {} failed: {}",
                    self.node,
                    self.address,
                    self.ssh.port,
                    self.ssh.user,
                    last_line(stderr)
                ),
            });
        }
        Err(RuntimeError::Backend {
            backend: "proxmox",
            reason: format!(
                "pct exec in {name} on node {} exited with {}: {}",
                self.node,
                output.status.code().unwrap_or(-1),
                last_line(stderr)
            ),
        })
    }
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("(no message)")
}

fn io(what: &str, source: std::io::Error) -> RuntimeError {
    RuntimeError::Io {
        path: what.to_owned(),
        source,
    }
}

/// A private `known_hosts` holding one pinned key, removed when dropped.
struct KnownHosts(PathBuf);

impl KnownHosts {
    fn write(node: &str, key: &str) -> std::io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "berth-known-hosts-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let known = Self(path);
        writeln!(file, "{node} {key}")?;
        Ok(known)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for KnownHosts {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
