//! Plugging an instance into the bridge: its netns and veth before the guest starts, the
//! guest's own network files in its rootfs, and unplugging when it is deleted.

use std::path::{Path, PathBuf};

use berth_guestfs::guest::GuestSystem;
use berth_guestfs::network::GuestNetwork;
use berth_guestfs::rootfs::Rootfs;
use berth_net::{GUEST_IFNAME, GuestLink};
use berth_store::{AddressRecord, InstanceRecord};
use berth_types::{IdRange, InstanceName};

use super::userns;
use crate::app::App;
use crate::app::error::HostError;

/// The namespaces a guest on the bridge joins, kept on files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attached {
    /// `/run/netns/berth-NAME`, with the guest's veth.
    pub netns: PathBuf,
    /// An unprivileged guest's user namespace, owning `netns`.
    pub userns: Option<PathBuf>,
}

impl App {
    /// Makes sure the bridge is up and the nftables table is in place; once per run, and
    /// again after a rebuild failed.
    pub(crate) async fn ensure_bridge(&self) -> Result<(), HostError> {
        let mut ready = self.network.ready.lock().await;
        if *ready {
            return Ok(());
        }
        let bridge = self.network.bridge.clone();
        tokio::task::spawn_blocking(move || {
            bridge.check_host_overlap()?;
            bridge.ensure().map(|_| ())
        })
        .await
        .map_err(HostError::task)?
        .map_err(|e| HostError::host("bringing up the bridge", e))?;
        *ready = true;
        drop(ready);
        self.rebuild_firewall().await
    }

    /// Creates `record`'s netns with its veth on the bridge and returns the namespaces for
    /// the runtime to join; `None` for backends that bring their own network. With
    /// `host_configures` the addresses and default routes are put on the guest's `eth0` here
    /// (a guest without systemd-networkd; see [`App::write_guest_network`]). With `idmap`
    /// (an unprivileged guest) the netns is made inside the guest's user namespace, both
    /// kept on files; without, a user namespace left from before is released.
    pub(crate) async fn attach_network(
        &self,
        record: &InstanceRecord,
        idmap: Option<IdRange>,
        host_configures: bool,
    ) -> Result<Option<Attached>, HostError> {
        if !self.capabilities(&record.backend).network.on_bridge() {
            return Ok(None);
        }
        let address = self.store.addresses_of(&record.name)?.ok_or_else(|| {
            HostError::Corrupt(format!("instance {} has no addresses", record.name))
        })?;
        self.ensure_bridge().await?;
        let link = guest_link(&address, host_configures);
        let bridge = self.network.bridge.clone();
        let name = record.name.clone();
        let userns_file = userns::userns_file(&self.config.runtime_dir, &name);
        let attached = tokio::task::spawn_blocking(move || {
            let userns = match idmap {
                Some(range) => userns::prepare(&name, range, &userns_file)
                    .map(|()| Some(userns_file))
                    .map_err(|e| HostError::host("making its user namespace", e))?,
                None => userns::release(&name, &userns_file)
                    .map(|()| None)
                    .map_err(|e| HostError::host("releasing its user namespace", e))?,
            };
            let netns = berth_net::attach(&bridge, &name, &link)
                .map_err(|e| HostError::host("plugging it into the bridge", e))?;
            Ok::<_, HostError>(Attached {
                netns: netns.into_path_buf(),
                userns,
            })
        })
        .await
        .map_err(HostError::task)??;
        Ok(Some(attached))
    }

    /// Removes `name`'s veth, netns and user namespace file; nothing there is fine.
    pub(crate) async fn detach_network(&self, name: &InstanceName) -> Result<(), HostError> {
        let name = name.clone();
        let userns_file = userns::userns_file(&self.config.runtime_dir, &name);
        tokio::task::spawn_blocking(move || {
            berth_net::detach(&name)
                .map_err(|e| HostError::host("unplugging it from the bridge", e))?;
            userns::release(&name, &userns_file)
                .map_err(|e| HostError::host("releasing its user namespace", e))
        })
        .await
        .map_err(HostError::task)?
    }

    /// Writes the guest's network configuration for `address` the way the guest reads it
    /// (`berth_guestfs::guest::detect`: a systemd-networkd file, a `manual` ifupdown stanza,
    /// or nothing) and its resolv.conf; returns what the guest is, so the caller knows whether
    /// the host must configure `eth0`.
    pub(crate) async fn write_guest_network(
        &self,
        rootfs: &Path,
        address: &AddressRecord,
    ) -> Result<GuestSystem, HostError> {
        let plan = *self.network.plan();
        let ipv4 = address.ipv4;
        let ipv6 = match (address.ipv6, plan.ipv6) {
            (Some(v6), Some(net6)) => Some((v6, net6.prefix)),
            _ => None,
        };
        // With a routed prefix, a global address too (same host part as the IPv4), and the
        // default IPv6 route through the bridge's address in that prefix.
        let global = self.routed_prefix().and_then(|prefix| {
            let offset = u32::from(ipv4) & !(u32::MAX << (32 - u32::from(plan.ipv4.prefix)));
            let addr = std::net::Ipv6Addr::from(u128::from(prefix.network) | u128::from(offset));
            Some(((addr, 64), prefix.gateway())).filter(|_| offset > 1)
        });
        let guest = GuestNetwork {
            interface: GUEST_IFNAME.to_owned(),
            ipv4: Some((ipv4, plan.ipv4.prefix)),
            gateway4: Some(plan.ipv4.gateway),
            ipv6,
            gateway6: match global {
                Some((_, gateway)) => Some(gateway),
                None => plan.ipv6.filter(|_| ipv6.is_some()).map(|n| n.gateway),
            },
            extra_ipv6: global.map(|(addr, _)| vec![addr]).unwrap_or_default(),
            dns: self.network.dns.clone(),
            search: Vec::new(),
        };
        let rootfs = rootfs.to_owned();
        let doing = "writing the guest's network files";
        tokio::task::spawn_blocking(move || {
            let root = Rootfs::open(&rootfs).map_err(|e| HostError::host(doing, e))?;
            let system = berth_guestfs::guest::detect(&root);
            berth_guestfs::network::configure(&root, &guest, system.network)
                .map_err(|e| HostError::host(doing, e))?;
            Ok(system)
        })
        .await
        .map_err(HostError::task)?
    }
}

fn guest_link(address: &AddressRecord, host_configures: bool) -> GuestLink {
    GuestLink {
        mac: address.mac.octets(),
        ipv4: Some(address.ipv4),
        ipv6: address.ipv6,
        // A guest's systemd-networkd configures eth0 from the files written at each start;
        // for any other guest the host does.
        configure: host_configures,
    }
}
