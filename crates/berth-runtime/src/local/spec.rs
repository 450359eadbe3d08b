//! The OCI runtime spec of a system container: the guest's systemd as PID 1 in its own
//! namespaces, with the mounts, devices, capabilities, seccomp filter and limits it needs.

use std::path::Path;

use berth_cgroups::{self as cgroup, Layout};
use berth_types::Limits;
use oci_spec::runtime::Spec;
use serde_json::{Value, json};

use super::guest::Launch;
use super::{security, userns_spec};

/// Where the shim's console pty is bind-mounted; the shim fills in the source.
pub const CONSOLE: &str = "/dev/console";

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("invalid OCI spec: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(transparent)]
    Unprivileged(#[from] super::userns_spec::UsernsSpecError),
}

/// Builds the OCI spec of `launch`'s guest on a host whose cgroups look like `layout` (the
/// host's, or as an OCI runtime sees them). Its root is `launch.rootfs`.
pub fn generate(launch: &Launch<'_>, layout: &Layout) -> Result<Spec, SpecError> {
    let spec = launch.spec;
    let name = spec.name.as_str();
    let caps = security::capabilities();
    let mut netns = json!({"type": "network"});
    if let Some(path) = &spec.netns {
        netns["path"] = json!(path);
    }
    let mut value = json!({
        "ociVersion": "1.0.2",
        "root": {"path": launch.rootfs, "readonly": false},
        "hostname": spec.hostname,
        "annotations": {"org.berth.stop-signal": "SIGRTMIN+3"},
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/sbin/init"],
            "env": [
                "container=berth",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=linux",
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "noNewPrivileges": false,
        },
        "mounts": mounts(name, layout),
        "linux": {
            "cgroupsPath": format!("/{}/{name}", cgroup::PARENT),
            "namespaces": [
                {"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
                {"type": "cgroup"}, netns,
            ],
            "devices": security::extra_devices(),
            "resources": resources(&spec.limits, launch.cpus),
            "seccomp": security::seccomp(true, true),
            "maskedPaths": security::MASKED_PATHS,
            "readonlyPaths": security::READONLY_PATHS,
        },
    });
    userns_spec::apply(&mut value, &spec.security)?;
    Ok(serde_json::from_value(value)?)
}

/// Writes `config.json` into `bundle`.
pub fn write_bundle(oci: &Spec, bundle: &Path) -> Result<(), SpecError> {
    let path = bundle.join("config.json");
    oci.save(&path).map_err(|e| SpecError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Points the `/dev/console` bind mount of the bundle at the supervisor's console pty.
pub fn set_console_source(bundle: &Path, slave: &Path) -> Result<(), SpecError> {
    let path = bundle.join("config.json");
    let mut oci = Spec::load(&path).map_err(|e| SpecError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut mounts = oci.mounts().clone().unwrap_or_default();
    for m in mounts
        .iter_mut()
        .filter(|m| m.destination() == Path::new(CONSOLE))
    {
        m.set_source(Some(slave.to_owned()));
    }
    oci.set_mounts(Some(mounts));
    write_bundle(&oci, bundle)
}

/// Adds a `createRuntime` hook (run after the runtime made the guest's cgroups, before its
/// init starts) to the bundle's config.json.
pub fn add_create_runtime_hook(
    bundle: &Path,
    program: &str,
    args: &[String],
) -> Result<(), SpecError> {
    let path = bundle.join("config.json");
    let mut oci = Spec::load(&path).map_err(|e| SpecError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let hook = serde_json::from_value(json!({"path": program, "args": args}))?;
    let mut hooks = oci.hooks().clone().unwrap_or_default();
    let mut create = hooks.create_runtime().clone().unwrap_or_default();
    create.push(hook);
    hooks.set_create_runtime(Some(create));
    oci.set_hooks(Some(hooks));
    write_bundle(&oci, bundle)
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": typ, "source": source, "options": options})
}

fn mounts(name: &str, layout: &Layout) -> Vec<Value> {
    let mut m = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        // /proc/sys is read-only except the guest's own network namespace's part.
        mount(
            "/proc/sys",
            "bind",
            "/proc/sys",
            &["bind", "ro", "nosuid", "nodev", "noexec"],
        ),
        mount(
            "/proc/sys/net",
            "bind",
            "/proc/sys/net",
            &["bind", "rw", "nosuid", "nodev", "noexec"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(CONSOLE, "bind", "/dev/null", &["bind", "rw"]),
        mount("/run", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=755"]),
        mount(
            "/run/lock",
            "tmpfs",
            "tmpfs",
            &["nosuid", "nodev", "noexec", "size=5120k"],
        ),
        mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]),
    ];
    let opts = ["nosuid", "noexec", "nodev"];
    match layout {
        Layout::V2(_) => m.push(mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["rw", "nosuid", "noexec", "nodev"],
        )),
        Layout::V1(hierarchies) => {
            m.push(mount(
                "/sys/fs/cgroup",
                "tmpfs",
                "tmpfs",
                &["nosuid", "noexec", "nodev", "mode=755"],
            ));
            let wanted =
                |h: &&cgroup::Hierarchy| h.is_managed() || h.is_named_systemd() || h.is_unified();
            for h in hierarchies.iter().filter(wanted) {
                let source = cgroup::guest_dir(&h.mount, name);
                let source = source.to_string_lossy();
                // Controllers are read-only so the guest cannot lift its own limits; systemd
                // only needs its own hierarchies (named, and a hybrid host's cgroup2) writable.
                let own = h.is_named_systemd() || h.is_unified();
                let rw = if own { "rw" } else { "ro" };
                let base = h
                    .mount
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                let mut dests: Vec<String> = base.into_iter().collect();
                if h.controllers.len() > 1 && !own {
                    dests.extend(h.controllers.iter().cloned());
                }
                dests.dedup();
                for d in dests {
                    let dest = format!("/sys/fs/cgroup/{d}");
                    m.push(mount(
                        &dest,
                        "bind",
                        &source,
                        &["bind", rw, opts[0], opts[1], opts[2]],
                    ));
                }
            }
        }
    }
    m
}

/// `limits`, the cpuset `cpus` and the device allow-list as OCI `linux.resources`.
pub fn resources(limits: &Limits, cpus: Option<&str>) -> Value {
    let mut r = json!({"devices": security::device_rules()});
    if let Some(cpu) = limits.cpu {
        r["cpu"] = json!({"quota": cgroup::cpu_quota(cpu), "period": cgroup::CPU_PERIOD});
    }
    if let Some(cpus) = cpus {
        if r.get("cpu").is_none() {
            r["cpu"] = json!({});
        }
        r["cpu"]["cpus"] = json!(cpus);
    }
    if let Some(memory) = limits.memory {
        // OCI `swap` is RAM+swap: equal to the RAM limit, the guest cannot swap past it.
        r["memory"] = json!({"limit": memory, "swap": memory});
    }
    if let Some(processes) = limits.processes {
        r["pids"] = json!({"limit": processes});
    }
    r
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use berth_types::{InstanceName, Limits};

    use super::*;
    use crate::ContainerSpec;
    use crate::local::state::Paths;
    use berth_cgroups::Hierarchy;

    fn container() -> ContainerSpec {
        ContainerSpec {
            name: InstanceName::parse("web1").expect("valid name"),
            rootfs: PathBuf::from("/var/lib/berth/web1/rootfs"),
            hostname: "web1".into(),
            limits: Limits {
                cpu: Some(1.5),
                memory: Some(512 << 20),
                disk: None,
                processes: Some(100),
            },
            state_dir: PathBuf::from("/run/berth/web1"),
            runtime: None,
            netns: Some(PathBuf::from("/run/netns/web1")),
            security: Default::default(),
        }
    }

    #[test]
    fn system_container_spec() {
        let layout = Layout::V1(vec![
            Hierarchy {
                mount: "/sys/fs/cgroup/systemd".into(),
                controllers: vec!["name=systemd".into()],
            },
            Hierarchy {
                mount: "/sys/fs/cgroup/cpu,cpuacct".into(),
                controllers: vec!["cpu".into(), "cpuacct".into()],
            },
        ]);
        let spec = container();
        let paths = Paths::new(std::path::Path::new("/run/berth/runtime"), "web1");
        let launch = Launch {
            spec: &spec,
            layout: &layout,
            paths: &paths,
            rootfs: spec.rootfs.clone(),
            cpus: Some("1"),
        };
        let oci = generate(&launch, &layout).expect("valid spec");
        let v = serde_json::to_value(&oci).expect("serializes");
        assert_eq!(v["process"]["args"][0], "/sbin/init");
        assert_eq!(v["hostname"], "web1");
        assert_eq!(v["linux"]["cgroupsPath"], "/berth/web1");
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 150_000);
        assert_eq!(v["linux"]["resources"]["cpu"]["cpus"], "1");
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], 512 << 20);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 100);
        let ns = v["linux"]["namespaces"].as_array().expect("namespaces");
        assert!(
            ns.iter()
                .any(|n| n["type"] == "network" && n["path"] == "/run/netns/web1")
        );
        let caps = v["process"]["capabilities"]["bounding"]
            .as_array()
            .expect("caps");
        assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(!caps.iter().any(|c| c == "CAP_SYS_MODULE"));
        let dests: Vec<&str> = v["mounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .filter_map(|m| m["destination"].as_str())
            .collect();
        for d in [
            "/sys/fs/cgroup/systemd",
            "/sys/fs/cgroup/cpu,cpuacct",
            "/sys/fs/cgroup/cpu",
        ] {
            assert!(dests.contains(&d), "{d} missing in {dests:?}");
        }
    }
}
