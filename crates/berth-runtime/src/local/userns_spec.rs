//! The OCI spec of an unprivileged guest (`docs/UNPRIVILEGED.md`, builtin and oci recipes): the
//! guest's user namespace joined by path with its mappings, the unprivileged tiers of the
//! seccomp deny list, and lxcfs' files bound over the guest's own `/proc` and `/sys` ones.

use serde_json::{Value, json};

use super::security::seccomp;
use crate::GuestSecurity;

/// What keeps an unprivileged guest's spec from being made.
#[derive(Debug, thiserror::Error)]
pub enum UsernsSpecError {
    #[error("an unprivileged guest needs its user namespace file (security.userns)")]
    NoUserNamespace,
}

/// Adds `security`'s user namespace, mappings, deny list and lxcfs binds to `oci` (the JSON of
/// a system container's spec); a privileged guest's spec is left as it is.
pub fn apply(oci: &mut Value, security: &GuestSecurity) -> Result<(), UsernsSpecError> {
    let Some(range) = security.idmap else {
        return Ok(());
    };
    let userns = security
        .userns
        .as_ref()
        .ok_or(UsernsSpecError::NoUserNamespace)?;
    let map = json!([{"containerID": 0, "hostID": range.start(), "size": berth_types::idmap::IDS_PER_GUEST}]);
    let linux = &mut oci["linux"];
    if let Some(namespaces) = linux["namespaces"].as_array_mut() {
        namespaces.push(json!({"type": "user", "path": userns}));
    }
    linux["uidMappings"] = map.clone();
    linux["gidMappings"] = map;
    linux["seccomp"] = seccomp(false, security.nesting);
    if let Some(mount_point) = &security.lxcfs
        && let Some(mounts) = oci["mounts"].as_array_mut()
    {
        // Only the files this lxcfs provides (an older one lacks some): a bind of a missing
        // source would fail the start.
        for target in berth_isolation::lxcfs::GUEST_FILES {
            let source = mount_point.join(target.trim_start_matches('/'));
            if !source.exists() {
                continue;
            }
            mounts.push(json!({
                "destination": target, "type": "bind", "source": source,
                "options": ["bind", "rw", "nosuid", "nodev", "noexec"],
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_types::IdRange;

    fn security() -> GuestSecurity {
        GuestSecurity {
            idmap: Some(IdRange::new(0x7001_0000).expect("range")),
            userns: Some("/run/berth/userns/web1".into()),
            nesting: false,
            lxcfs: None,
        }
    }

    fn base() -> Value {
        json!({"mounts": [], "linux": {"namespaces": [{"type": "pid"}], "seccomp": {}}})
    }

    #[test]
    fn unprivileged_joins_its_user_namespace_with_its_mappings() {
        // An lxcfs mount with only meminfo.
        let lxcfs = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(lxcfs.path().join("proc")).expect("proc");
        std::fs::write(lxcfs.path().join("proc/meminfo"), "MemTotal: 1 kB").expect("meminfo");
        let security = GuestSecurity {
            lxcfs: Some(lxcfs.path().to_owned()),
            ..security()
        };
        let mut oci = base();
        apply(&mut oci, &security).expect("applies");
        let ns = &oci["linux"]["namespaces"][1];
        assert_eq!(ns["type"], "user");
        assert_eq!(ns["path"], "/run/berth/userns/web1");
        assert_eq!(oci["linux"]["uidMappings"][0]["hostID"], 0x7001_0000);
        assert_eq!(oci["linux"]["gidMappings"][0]["size"], 65_536);
        let denied = oci["linux"]["seccomp"].to_string();
        assert!(
            denied.contains("\"bpf\"") && denied.contains("\"unshare\""),
            "{denied}"
        );
        let meminfo = oci["mounts"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["destination"] == "/proc/meminfo"))
            .expect("lxcfs meminfo bind");
        assert_eq!(meminfo["source"], json!(lxcfs.path().join("proc/meminfo")));
        assert_eq!(
            oci["mounts"].as_array().map(Vec::len),
            Some(1),
            "only what lxcfs has"
        );
    }

    #[test]
    fn nesting_lifts_only_the_nesting_tier() {
        let mut oci = base();
        let security = GuestSecurity {
            nesting: true,
            ..security()
        };
        apply(&mut oci, &security).expect("applies");
        let denied = oci["linux"]["seccomp"].to_string();
        assert!(
            denied.contains("\"bpf\"") && !denied.contains("\"unshare\""),
            "{denied}"
        );
        assert_eq!(oci["mounts"], json!([]));
    }

    #[test]
    fn privileged_is_untouched_and_a_missing_namespace_file_is_refused() {
        let mut oci = base();
        apply(&mut oci, &GuestSecurity::default()).expect("applies");
        assert_eq!(oci, base());
        let no_file = GuestSecurity {
            userns: None,
            ..security()
        };
        assert!(matches!(
            apply(&mut oci, &no_file),
            Err(UsernsSpecError::NoUserNamespace)
        ));
    }
}
