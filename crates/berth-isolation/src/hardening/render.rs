//! The deny list in each launcher's syntax: an OCI `linux.seccomp` object (libcontainer,
//! crun, runc), LXC's seccomp policy file (v2, denylist) and systemd-nspawn's
//! `--system-call-filter=` arguments.

use serde_json::{Value, json};

use super::Denied;

/// The OCI `linux.seccomp` object: allow by default, deny the list with its errnos, on the
/// native architecture and its compat ones (so 32-bit entry points cannot bypass it).
pub fn oci(denied: &[Denied]) -> Value {
    let arches: &[&str] = if cfg!(target_arch = "x86_64") {
        &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    } else if cfg!(target_arch = "aarch64") {
        &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    } else {
        &[]
    };
    let syscalls: Vec<Value> = denied
        .iter()
        .map(|d| {
            let mut rule = json!({
                "names": [d.name], "action": "SCMP_ACT_ERRNO", "errnoRet": d.errno,
            });
            if let Some(a) = d.arg {
                // libseccomp's SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` the datum.
                rule["args"] = json!([{
                    "index": a.index, "value": a.mask, "valueTwo": a.value,
                    "op": "SCMP_CMP_MASKED_EQ",
                }]);
            }
            rule
        })
        .collect();
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": arches, "syscalls": syscalls})
}

/// LXC's seccomp policy (`lxc.seccomp.profile` names a file with this text): version 2,
/// a denylist for every architecture, forced unmounts refused.
pub fn lxc(denied: &[Denied]) -> String {
    let mut text = String::from("2\ndenylist\nreject_force_umount\n[all]\n");
    for d in denied {
        text.push_str(&format!("{} errno {}", d.name, d.errno));
        if let Some(a) = d.arg {
            // LXC's argument syntax: [index,datum,op,mask].
            text.push_str(&format!(
                " [{},{},SCMP_CMP_MASKED_EQ,{}]",
                a.index, a.value, a.mask
            ));
        }
        text.push('\n');
    }
    text
}

/// systemd-nspawn's `--system-call-filter=~NAME:ERRNO` arguments. nspawn cannot test
/// arguments: a rule with one is left out and returned in the second list, for the caller
/// to report (nspawn guests cannot be kept from making user namespaces this way).
pub fn nspawn(denied: &[Denied]) -> (Vec<String>, Vec<&'static str>) {
    let mut args = Vec::new();
    let mut skipped = Vec::new();
    for d in denied {
        if d.arg.is_some() {
            skipped.push(d.name);
            continue;
        }
        args.push(format!(
            "--system-call-filter=~{}:{}",
            d.name,
            errno_name(d.errno)
        ));
    }
    (args, skipped)
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::ENOSYS => "ENOSYS",
        _ => "EPERM",
    }
}

#[cfg(test)]
mod tests {
    use super::super::denied;
    use super::*;

    #[test]
    fn every_syntax_carries_the_whole_list() {
        let list = denied(false, false);
        let oci = oci(&list);
        let rules = oci["syscalls"].as_array().expect("rules");
        assert_eq!(rules.len(), list.len());
        let unshare = rules
            .iter()
            .find(|r| r["names"][0] == "unshare")
            .expect("unshare");
        assert_eq!(unshare["args"][0]["value"], 0x1000_0000);
        assert_eq!(unshare["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        let keyctl = rules
            .iter()
            .find(|r| r["names"][0] == "keyctl")
            .expect("keyctl");
        assert_eq!(keyctl["errnoRet"], libc::ENOSYS);

        let text = lxc(&list);
        assert!(text.starts_with("2\ndenylist\n"), "{text}");
        assert!(text.contains("\nkexec_load errno 1\n"), "{text}");
        assert!(
            text.contains("\nunshare errno 1 [0,268435456,SCMP_CMP_MASKED_EQ,268435456]\n"),
            "{text}"
        );

        let (args, skipped) = nspawn(&list);
        assert!(args.contains(&"--system-call-filter=~keyctl:ENOSYS".to_owned()));
        assert!(args.contains(&"--system-call-filter=~bpf:EPERM".to_owned()));
        assert_eq!(skipped, ["unshare", "clone"]);
    }

    #[test]
    fn tiers_follow_privilege_and_nesting() {
        let names = |l: Vec<Denied>| l.into_iter().map(|d| d.name).collect::<Vec<_>>();
        let privileged = names(denied(true, false));
        assert!(privileged.contains(&"open_by_handle_at") && !privileged.contains(&"keyctl"));
        let nesting = names(denied(false, true));
        assert!(nesting.contains(&"keyctl") && !nesting.contains(&"clone3"));
        assert!(names(denied(false, false)).contains(&"clone3"));
    }
}
