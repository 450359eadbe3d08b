//! A small synchronous rtnetlink client: one socket, one request at a time, acks and dumps.
//! A socket belongs to the network namespace it was opened in; [`Netlink::open_in`] opens one
//! inside a named netns.

use std::io;
use std::net::IpAddr;
use std::path::Path;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::route::{RouteProtocol, RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

#[derive(Debug, thiserror::Error)]
pub enum NlError {
    #[error("netlink socket")]
    Socket(#[source] io::Error),
    #[error("netlink {op}")]
    Kernel {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("netlink {op}: undecodable reply: {message}")]
    Decode { op: &'static str, message: String },
    #[error("entering netns {path}")]
    Netns {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl NlError {
    /// The kernel's errno, when the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

pub(crate) struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// A socket in the caller's network namespace.
    pub fn open() -> Result<Self, NlError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NlError::Socket)?;
        socket.bind_auto().map_err(NlError::Socket)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NlError::Socket)?;
        Ok(Self { socket, seq: 0 })
    }

    /// A socket inside the netns bound at `path`: opened on a short-lived thread that joins it.
    pub fn open_in(path: &Path) -> Result<Self, NlError> {
        let path = path.to_owned();
        let shown = path.display().to_string();
        std::thread::spawn(move || {
            crate::netns::enter(&path).map_err(|source| NlError::Netns {
                path: path.display().to_string(),
                source,
            })?;
            Self::open()
        })
        .join()
        .map_err(|_| NlError::Netns {
            path: shown,
            source: io::Error::other("thread panicked"),
        })?
    }

    /// Sends `message` and collects the replies: until the ack, or until `Done` for a dump.
    pub fn request(
        &mut self,
        op: &'static str,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        let kernel = |source| NlError::Kernel { op, source };
        self.socket.send(&buf, 0).map_err(kernel)?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut replies = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full().map_err(kernel)?;
            let mut offset = 0;
            while offset < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| NlError::Decode {
                        op,
                        message: e.to_string(),
                    })?;
                let length = reply.header.length as usize;
                if length == 0 {
                    break;
                }
                offset += length;
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(err) => match err.code {
                        Some(code) => {
                            return Err(kernel(io::Error::from_raw_os_error(-code.get())));
                        }
                        None if !dump => return Ok(replies),
                        None => {}
                    },
                    NetlinkPayload::InnerMessage(inner) => {
                        replies.push(inner);
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The link called `name`, `None` when there is none.
    pub fn link(&mut self, name: &str) -> Result<Option<LinkMessage>, NlError> {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        match self.request("get link", RouteNetlinkMessage::GetLink(message), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(link) => Some(link),
                _ => None,
            })),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>, NlError> {
        Ok(self.link(name)?.map(|link| link.header.index))
    }

    /// Creates a link; `EEXIST` is an error the caller may handle.
    pub fn new_link(&mut self, message: LinkMessage) -> Result<(), NlError> {
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        self.request("new link", RouteNetlinkMessage::NewLink(message), flags)?;
        Ok(())
    }

    pub fn set_up(&mut self, index: u32) -> Result<(), NlError> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        self.request(
            "set link up",
            RouteNetlinkMessage::SetLink(message),
            NLM_F_ACK,
        )?;
        Ok(())
    }

    /// Deletes a link by index; a link already gone is fine.
    pub fn del_link(&mut self, index: u32) -> Result<(), NlError> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        match self.request(
            "delete link",
            RouteNetlinkMessage::DelLink(message),
            NLM_F_ACK,
        ) {
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Adds `addr/prefix` to a link; an address already there is fine. IPv6 skips DAD.
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix: u8) -> Result<(), NlError> {
        let mut message = address_message(index, addr, prefix);
        if addr.is_ipv6() {
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        match self.request(
            "add address",
            RouteNetlinkMessage::NewAddress(message),
            flags,
        ) {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Every address on the host with its prefix length and link index.
    pub fn addresses(&mut self) -> Result<Vec<(u32, IpAddr, u8)>, NlError> {
        let message = RouteNetlinkMessage::GetAddress(AddressMessage::default());
        let replies = self.request("dump addresses", message, NLM_F_DUMP)?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(a) => {
                    let addr = a.attributes.iter().find_map(|attr| match attr {
                        AddressAttribute::Address(addr) => Some(*addr),
                        _ => None,
                    })?;
                    Some((a.header.index, addr, a.header.prefix_len))
                }
                _ => None,
            })
            .collect())
    }

    /// A default route via `gateway` out of link `index`; one already there is fine.
    pub fn add_default_route(&mut self, index: u32, gateway: IpAddr) -> Result<(), NlError> {
        let mut message = RouteMessage::default();
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Static;
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        let (family, address) = match gateway {
            IpAddr::V4(v4) => (AddressFamily::Inet, RouteAddress::Inet(v4)),
            IpAddr::V6(v6) => (AddressFamily::Inet6, RouteAddress::Inet6(v6)),
        };
        message.header.address_family = family;
        message.attributes.push(RouteAttribute::Gateway(address));
        message.attributes.push(RouteAttribute::Oif(index));
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        match self.request("add route", RouteNetlinkMessage::NewRoute(message), flags) {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            other => other.map(drop),
        }
    }

    /// A route to `dest/prefix` straight out of link `index` (no gateway); one already there
    /// is fine.
    pub fn add_link_route(&mut self, index: u32, dest: IpAddr, prefix: u8) -> Result<(), NlError> {
        let mut message = RouteMessage::default();
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Static;
        message.header.scope = RouteScope::Link;
        message.header.kind = RouteType::Unicast;
        message.header.destination_prefix_length = prefix;
        let (family, address) = match dest {
            IpAddr::V4(v4) => (AddressFamily::Inet, RouteAddress::Inet(v4)),
            IpAddr::V6(v6) => (AddressFamily::Inet6, RouteAddress::Inet6(v6)),
        };
        message.header.address_family = family;
        if prefix > 0 {
            message
                .attributes
                .push(RouteAttribute::Destination(address));
        }
        message.attributes.push(RouteAttribute::Oif(index));
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        match self.request("add route", RouteNetlinkMessage::NewRoute(message), flags) {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Removes `addr/prefix` from a link; one not there is fine.
    pub fn del_address(&mut self, index: u32, addr: IpAddr, prefix: u8) -> Result<(), NlError> {
        let message = address_message(index, addr, prefix);
        match self.request(
            "delete address",
            RouteNetlinkMessage::DelAddress(message),
            NLM_F_ACK,
        ) {
            Err(e) if matches!(e.errno(), Some(libc::EADDRNOTAVAIL | libc::ENODEV)) => Ok(()),
            other => other.map(drop),
        }
    }
}

/// `addr/prefix` on link `index`, for adding or deleting.
fn address_message(index: u32, addr: IpAddr, prefix: u8) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.index = index;
    message.header.prefix_len = prefix;
    message.header.family = match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    message.attributes.push(AddressAttribute::Local(addr));
    message.attributes.push(AddressAttribute::Address(addr));
    message
}
