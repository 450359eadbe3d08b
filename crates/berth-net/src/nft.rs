//! The one nftables table Berth owns (`inet berth`), rebuilt atomically from the desired state:
//! masquerade for the bridge subnets, forward accepts, and DNAT port forwards that work from
//! outside and from the host itself, 127.0.0.1 included. Other tables are never touched.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use crate::bridge::{BridgeConfig, valid_ifname};
use crate::forward::Forward;

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("nft table name {0:?} is not 1-32 chars of [A-Za-z0-9_]")]
    BadTable(String),
    #[error("bridge name {0:?} is not a valid interface name")]
    BadBridge(String),
    #[error("running nft")]
    Spawn(#[source] std::io::Error),
    #[error("nft refused table {table}: {stderr}")]
    Failed { table: String, stderr: String },
    #[error("setting sysctl {key}")]
    Sysctl {
        key: String,
        #[source]
        source: std::io::Error,
    },
}

/// Everything the table should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    /// The `inet` table's name, `berth` in production.
    pub table: String,
    pub bridge: BridgeConfig,
    pub forwards: Vec<Forward>,
}

impl Firewall {
    fn validate(&self) -> Result<(), NftError> {
        let t = &self.table;
        if t.is_empty()
            || t.len() > 32
            || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(NftError::BadTable(t.clone()));
        }
        if !valid_ifname(&self.bridge.name) {
            return Err(NftError::BadBridge(self.bridge.name.clone()));
        }
        Ok(())
    }

    /// The `nft -f` script: declare, delete and recreate our table, in one transaction.
    pub fn script(&self) -> Result<String, NftError> {
        self.validate()?;
        let (t, br) = (&self.table, &self.bridge.name);
        let v4 = self.bridge.plan.ipv4.cidr();
        let mut dnat = String::new();
        for f in &self.forwards {
            for rule in dnat_rules(f) {
                let _ = writeln!(dnat, "\t\t{rule}");
            }
        }
        let mut s = format!("table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n");
        let _ = writeln!(
            s,
            "\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{dnat}\t}}"
        );
        let _ = writeln!(
            s,
            "\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{dnat}\t}}"
        );
        let mut post = format!(
            "\t\tmeta nfproto ipv4 ip saddr {v4} oifname != \"{br}\" masquerade\n\
             \t\tmeta nfproto ipv4 oifname \"{br}\" ct status dnat ip saddr 127.0.0.0/8 masquerade\n\
             \t\tmeta nfproto ipv4 oifname \"{br}\" ct status dnat ip saddr {v4} masquerade\n"
        );
        if let Some(v6) = self.bridge.plan.ipv6 {
            let v6 = v6.cidr();
            let _ = write!(
                post,
                "\t\tmeta nfproto ipv6 ip6 saddr {v6} oifname != \"{br}\" masquerade\n\
                 \t\tmeta nfproto ipv6 oifname \"{br}\" ct status dnat ip6 saddr {v6} masquerade\n"
            );
        }
        let _ = writeln!(
            s,
            "\tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n{post}\t}}"
        );
        let _ = writeln!(
            s,
            "\tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n\
             \t\tiifname \"{br}\" accept\n\
             \t\toifname \"{br}\" ct state established,related accept\n\
             \t\toifname \"{br}\" ct status dnat accept\n\t}}"
        );
        s.push_str("}\n");
        Ok(s)
    }

    /// Applies the table atomically, turns on IPv4 forwarding if it is off, and lets the bridge
    /// route DNATed 127.0.0.1 traffic (`route_localnet`) when there are forwards.
    pub fn apply(&self) -> Result<(), NftError> {
        let script = self.script()?;
        run_nft(&self.table, &script)?;
        enable_sysctl("net/ipv4/ip_forward")?;
        if !self.forwards.is_empty() {
            enable_sysctl(&format!(
                "net/ipv4/conf/{}/route_localnet",
                self.bridge.name
            ))?;
        }
        tracing::info!(table = %self.table, forwards = self.forwards.len(), "applied nftables");
        Ok(())
    }
}

/// Deletes our table; none there is fine.
pub fn remove_table(table: &str) -> Result<(), NftError> {
    if table.is_empty()
        || table.len() > 32
        || !table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(NftError::BadTable(table.to_owned()));
    }
    run_nft(
        table,
        &format!("table inet {table}\ndelete table inet {table}\n"),
    )
}

/// The DNAT rules of one forward, shared by prerouting (from outside) and output (from the host).
fn dnat_rules(f: &Forward) -> Vec<String> {
    let s = &f.spec;
    let proto = s.protocol.as_str();
    let mut rules = Vec::new();
    let targets: [(bool, Option<IpAddr>); 2] = [
        (true, Some(IpAddr::V4(f.guest4))),
        (false, f.guest6.map(IpAddr::V6)),
    ];
    for (is_v4, target) in targets {
        let Some(target) = target else { continue };
        let (family, fam) = if is_v4 {
            ("ipv4", "ip")
        } else {
            ("ipv6", "ip6")
        };
        let dest = match s.listen {
            Some(IpAddr::V4(a)) if is_v4 => format!("ip daddr {a}"),
            Some(IpAddr::V6(a)) if !is_v4 => format!("ip6 daddr {a}"),
            Some(_) => continue,
            None => "fib daddr type local".to_owned(),
        };
        let shown = if is_v4 {
            target.to_string()
        } else {
            format!("[{target}]")
        };
        let offset = s.end - s.start;
        if s.start == s.guest_port {
            let ports = if offset == 0 {
                s.start.to_string()
            } else {
                format!("{}-{}", s.start, s.end)
            };
            rules.push(format!(
                "meta nfproto {family} {dest} {proto} dport {ports} dnat {fam} to {shown}"
            ));
        } else {
            for i in 0..=offset {
                rules.push(format!(
                    "meta nfproto {family} {dest} {proto} dport {} dnat {fam} to {shown}:{}",
                    s.start + i,
                    s.guest_port + i
                ));
            }
        }
    }
    rules
}

fn run_nft(table: &str, script: &str) -> Result<(), NftError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(NftError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(NftError::Spawn)?;
    if !out.status.success() {
        return Err(NftError::Failed {
            table: table.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Writes `1` to `/proc/sys/KEY` unless it already is.
fn enable_sysctl(key: &str) -> Result<(), NftError> {
    let path = format!("/proc/sys/{key}");
    let err = |source| NftError::Sysctl {
        key: key.replace('/', "."),
        source,
    };
    if std::fs::read_to_string(&path).map_err(err)?.trim() == "1" {
        return Ok(());
    }
    std::fs::write(&path, "1").map_err(err)?;
    tracing::info!(sysctl = %key.replace('/', "."), "enabled");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::ForwardSpec;
    use crate::ipam::NetworkPlan;

    fn firewall(specs: &[&str]) -> Firewall {
        let plan = NetworkPlan::parse("10.88.0.1/24", Some("fd42:88::1/64")).expect("plan");
        Firewall {
            table: "berth".into(),
            bridge: BridgeConfig {
                name: "berth0".into(),
                plan,
            },
            forwards: specs
                .iter()
                .map(|raw| Forward {
                    instance: "web1".into(),
                    spec: ForwardSpec::parse_field(raw, "f").expect("spec"),
                    guest4: "10.88.0.2".parse().expect("v4"),
                    guest6: plan.ipv6_for("10.88.0.2".parse().expect("v4")),
                })
                .collect(),
        }
    }

    #[test]
    fn script_recreates_only_our_table() {
        let s = firewall(&[]).script().expect("script");
        assert!(s.starts_with("table inet berth\ndelete table inet berth\ntable inet berth {"));
        assert!(s.contains("ip saddr 10.88.0.0/24 oifname != \"berth0\" masquerade"));
        assert!(s.contains("ip6 saddr fd42:88::/64 oifname != \"berth0\" masquerade"));
        assert!(!s.contains("flush ruleset"));
    }

    #[test]
    fn forwards_render_for_both_families_and_ranges() {
        let s = firewall(&["127.0.0.1:2222:22", "8000-8001:9000/udp", "53-60:53/udp"])
            .script()
            .expect("script");
        assert!(
            s.contains("ip daddr 127.0.0.1 tcp dport 2222 dnat ip to 10.88.0.2:22"),
            "{s}"
        );
        assert!(!s.contains("dport 2222 dnat ip6"), "{s}");
        assert!(s.contains("fib daddr type local udp dport 8001 dnat ip to 10.88.0.2:9001"));
        assert!(s.contains("udp dport 8000 dnat ip6 to [fd42:88::2]:9000"));
        assert!(s.contains("udp dport 53-60 dnat ip to 10.88.0.2\n"));
        // Both the prerouting and the output chain carry each rule.
        assert_eq!(s.matches("tcp dport 2222").count(), 2);
    }

    #[test]
    fn bad_names_are_refused() {
        let mut f = firewall(&[]);
        f.table = "berth; flush ruleset".into();
        assert!(matches!(f.script(), Err(NftError::BadTable(_))));
        let mut f = firewall(&[]);
        f.bridge.name = "a\"b".into();
        assert!(matches!(f.script(), Err(NftError::BadBridge(_))));
    }
}
