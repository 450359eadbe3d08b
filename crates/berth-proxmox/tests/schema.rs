//! The bundled PVE API schema and the validator the double uses: lookups, PVE's messages for
//! each kind of bad value, named formats and property strings.

use std::collections::BTreeMap;

use berth_proxmox::schema::{NotFound, Schema};

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn paths_resolve_with_literal_segments_first() {
    let schema = Schema::bundled().expect("schema loads");
    let (endpoint, vars) = schema
        .find("GET", "/nodes/pve1/lxc/101/status/current")
        .expect("found");
    assert_eq!(endpoint.path, "/nodes/{node}/lxc/{vmid}/status/current");
    assert_eq!(
        (vars["node"].as_str(), vars["vmid"].as_str()),
        ("pve1", "101")
    );
    let (endpoint, _) = schema
        .find("GET", "/nodes/pve1/lxc/101/snapshot")
        .expect("found");
    assert_eq!(endpoint.path, "/nodes/{node}/lxc/{vmid}/snapshot");
    let (endpoint, vars) = schema
        .find("DELETE", "/nodes/pve1/lxc/101/snapshot/before")
        .expect("found");
    assert_eq!(
        endpoint.path,
        "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}"
    );
    assert_eq!(vars["snapname"], "before");
    assert_eq!(
        schema.find("PATCH", "/cluster/resources").err(),
        Some(NotFound::Method)
    );
    assert_eq!(
        schema.find("GET", "/no/such/thing").err(),
        Some(NotFound::Path)
    );
}

#[test]
fn values_are_checked_with_pves_messages() {
    let schema = Schema::bundled().expect("schema loads");
    let (create, vars) = schema.find("POST", "/nodes/pve1/lxc").expect("found");
    let check = |extra: &[(&str, &str)]| {
        let mut all = params(&[
            ("vmid", "100"),
            (
                "ostemplate",
                "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            ),
        ]);
        all.extend(vars.clone());
        all.extend(params(extra));
        schema.validate(create, &all)
    };
    check(&[
        ("hostname", "web1.example.org"),
        ("memory", "512"),
        ("cpulimit", "1.5"),
        ("unprivileged", "1"),
        ("net0", "name=eth0,bridge=vmbr0,ip=dhcp,ip6=auto"),
        ("rootfs", "local-lvm:8"),
        ("features", "nesting=1"),
        ("arch", "amd64"),
    ])
    .expect("a good create passes");
    let err = |extra: &[(&str, &str)], key: &str| {
        check(extra)
            .expect_err("rejected")
            .remove(key)
            .unwrap_or_default()
    };
    assert_eq!(
        err(&[("unprivileged", "maybe")], "unprivileged"),
        "type check ('boolean') failed - got 'maybe'"
    );
    assert_eq!(
        err(&[("cpulimit", "lots")], "cpulimit"),
        "type check ('number') failed - got 'lots'"
    );
    assert_eq!(
        err(&[("memory", "8")], "memory"),
        "value must have a minimum value of 16"
    );
    assert!(
        err(&[("arch", "sparc")], "arch")
            .starts_with("value 'sparc' does not have a value in the enumeration 'amd64, i386")
    );
    assert!(err(&[("hostname", "-web")], "hostname").contains("valid DNS name"));
    assert!(err(&[("net0", "bridge=vmbr0")], "net0").contains("name: property is missing"));
    assert!(err(&[("net0", "name=eth0,mtu=big")], "net0").contains("mtu: type check ('integer')"));
    assert!(err(&[("password", "abc")], "password").contains("at least 5"));
    check(&[("net12", "name=eth12")]).expect("net[n] covers net12");
}

#[test]
fn node_names_and_vmids_in_paths_are_checked_too() {
    let schema = Schema::bundled().expect("schema loads");
    let (endpoint, vars) = schema
        .find("GET", "/nodes/bad_node/lxc/99/status/current")
        .expect("found");
    let errors = schema.validate(endpoint, &vars).expect_err("rejected");
    assert!(errors["node"].contains("valid node name"), "{errors:?}");
    assert!(
        errors["vmid"].contains("minimum value of 100"),
        "{errors:?}"
    );
}
