//! Per-instance customisation of a cloned rootfs: hostname, `/etc/hosts`, a fresh machine id,
//! root's SSH keys and password hash. Every write goes through [`crate::rootfs`].

use std::path::Path;

use tracing::debug;

use crate::rootfs::{Rootfs, RootfsError};

#[derive(Debug, thiserror::Error)]
pub enum CustomiseError {
    #[error("{0:?} is not a valid hostname")]
    BadHostname(String),
    #[error("the guest has no root entry in /etc/shadow")]
    NoRootInShadow,
    #[error("the password hash is not in crypt(3) form")]
    BadHash,
    #[error("an SSH key holds a line break")]
    BadKey,
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
}

/// Everything a new instance needs before its first boot: its hostname (in `/etc/hostname`
/// and `/etc/hosts`) and its own `/etc/machine-id`.
pub fn customise(rootfs: &Path, hostname: &str) -> Result<(), CustomiseError> {
    let root = Rootfs::open(rootfs)?;
    set_hostname(&root, hostname)?;
    set_machine_id(&root)?;
    debug!(rootfs = %rootfs.display(), hostname, "customised rootfs");
    Ok(())
}

/// Writes `/etc/hostname` and points `127.0.1.1` at the name in `/etc/hosts`.
pub fn set_hostname(root: &Rootfs, hostname: &str) -> Result<(), CustomiseError> {
    let valid = !hostname.is_empty()
        && hostname.len() <= 63
        && hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !hostname.starts_with('-')
        && !hostname.ends_with('-');
    if !valid {
        return Err(CustomiseError::BadHostname(hostname.to_owned()));
    }
    root.write_file(
        Path::new("/etc/hostname"),
        format!("{hostname}\n").as_bytes(),
        0o644,
    )?;
    let hosts = root
        .read_optional(Path::new("/etc/hosts"))?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(default_hosts);
    root.write_file(
        Path::new("/etc/hosts"),
        hosts_with_name(&hosts, hostname).as_bytes(),
        0o644,
    )?;
    Ok(())
}

/// The `/etc/hosts` an image starts with.
pub fn default_hosts() -> String {
    "127.0.0.1\tlocalhost\n\
     ::1\t\tlocalhost ip6-localhost ip6-loopback\n\
     ff02::1\t\tip6-allnodes\n\
     ff02::2\t\tip6-allrouters\n"
        .to_owned()
}

/// `hosts` with its `127.0.1.1` line replaced by (or, if absent, extended with) one for `name`.
pub fn hosts_with_name(hosts: &str, name: &str) -> String {
    let line = format!("127.0.1.1\t{name}");
    let mut out = String::with_capacity(hosts.len() + line.len() + 1);
    let mut placed = false;
    for existing in hosts.lines() {
        if existing.split_whitespace().next() == Some("127.0.1.1") {
            if !placed {
                out.push_str(&line);
                out.push('\n');
                placed = true;
            }
            continue;
        }
        out.push_str(existing);
        out.push('\n');
        if !placed && existing.split_whitespace().next() == Some("127.0.0.1") {
            out.push_str(&line);
            out.push('\n');
            placed = true;
        }
    }
    if !placed {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Gives the guest a new random `/etc/machine-id` (32 lowercase hex digits) and drops a stale
/// D-Bus copy of the old one.
pub fn set_machine_id(root: &Rootfs) -> Result<String, CustomiseError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    root.write_file(
        Path::new("/etc/machine-id"),
        format!("{id}\n").as_bytes(),
        0o444,
    )?;
    root.remove_file(Path::new("/var/lib/dbus/machine-id"))?;
    Ok(id)
}

/// Replaces root's `authorized_keys` with `keys` (one OpenSSH public key each).
pub fn set_root_ssh_keys(root: &Rootfs, keys: &[String]) -> Result<(), CustomiseError> {
    if keys.iter().any(|k| k.contains(['\n', '\r'])) {
        return Err(CustomiseError::BadKey);
    }
    root.create_dir_all(Path::new("/root/.ssh"), 0o700)?;
    let mut text = keys.iter().map(|k| k.trim()).collect::<Vec<_>>().join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    root.write_file(
        Path::new("/root/.ssh/authorized_keys"),
        text.as_bytes(),
        0o600,
    )?;
    Ok(())
}

/// Sets root's password to a crypt(3) hash (`$6$…`, `$y$…`) in `/etc/shadow`; never a clear
/// password, which this crate never sees.
pub fn set_root_password_hash(root: &Rootfs, hash: &str) -> Result<(), CustomiseError> {
    if !hash.starts_with('$') || hash.contains([':', '\n', '\r']) {
        return Err(CustomiseError::BadHash);
    }
    let shadow = root.read_file(Path::new("/etc/shadow"))?;
    let shadow = String::from_utf8_lossy(&shadow);
    let days = chrono::Utc::now().timestamp() / 86_400;
    let mut found = false;
    let mut out = String::with_capacity(shadow.len() + hash.len());
    for line in shadow.lines() {
        let mut fields: Vec<&str> = line.split(':').collect();
        if fields.first() == Some(&"root") && fields.len() >= 3 {
            found = true;
            let days = days.to_string();
            fields[1] = hash;
            fields[2] = &days;
            out.push_str(&fields.join(":"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if !found {
        return Err(CustomiseError::NoRootInShadow);
    }
    root.write_file(Path::new("/etc/shadow"), out.as_bytes(), 0o640)?;
    Ok(())
}

/// Installs a (validated) wg-quick config as `/etc/wireguard/wg0.conf` (0600, in a 0700
/// directory) and enables `wg-quick@wg0` at boot.
pub fn install_wireguard(root: &Rootfs, config_text: &str) -> Result<(), CustomiseError> {
    root.create_dir_all(Path::new("/etc/wireguard"), 0o700)?;
    root.write_file(
        Path::new("/etc/wireguard/wg0.conf"),
        config_text.as_bytes(),
        0o600,
    )?;
    root.create_dir_all(
        Path::new("/etc/systemd/system/multi-user.target.wants"),
        0o755,
    )?;
    root.symlink(
        Path::new("/etc/systemd/system/multi-user.target.wants/wg-quick@wg0.service"),
        Path::new("/lib/systemd/system/wg-quick@.service"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_line_is_added_after_localhost() {
        let hosts = hosts_with_name(&default_hosts(), "web1");
        let lines: Vec<&str> = hosts.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[1], "127.0.1.1\tweb1");
        assert_eq!(hosts.matches("127.0.1.1").count(), 1);
    }

    #[test]
    fn hosts_line_is_replaced() {
        let hosts = "127.0.0.1 localhost\n127.0.1.1 old old.example\n10.0.0.1 db\n";
        assert_eq!(
            hosts_with_name(hosts, "new"),
            "127.0.0.1 localhost\n127.0.1.1\tnew\n10.0.0.1 db\n"
        );
        assert_eq!(hosts_with_name("", "a"), "127.0.1.1\ta\n");
    }

    #[test]
    fn customises_a_rootfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        std::fs::write(dir.path().join("etc/machine-id"), "").expect("write");
        std::fs::write(
            dir.path().join("etc/shadow"),
            "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
        )
        .expect("write");
        customise(dir.path(), "web1").expect("customise");
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).expect("read");
        assert_eq!(read("etc/hostname"), "web1\n");
        assert!(read("etc/hosts").contains("127.0.1.1\tweb1\n"));
        let id = read("etc/machine-id");
        assert_eq!(id.trim().len(), 32);
        assert!(id.trim().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(customise(dir.path(), "-bad").is_err());

        let root = Rootfs::open(dir.path()).expect("open");
        set_root_password_hash(&root, "$6$salt$hash").expect("hash");
        assert!(read("etc/shadow").starts_with("root:$6$salt$hash:"));
        assert!(read("etc/shadow").contains("\ndaemon:*:19000:"));
        assert!(set_root_password_hash(&root, "plain").is_err());
        set_root_ssh_keys(&root, &["ssh-ed25519 AAAA me@host".into()]).expect("keys");
        assert_eq!(
            read("root/.ssh/authorized_keys"),
            "ssh-ed25519 AAAA me@host\n"
        );
    }
}
