//! Port forwards: the `[ADDR:]HOSTPORT[-END]:PORT[/tcp|udp]` spec, and the conflict checks
//! against other forwards and against ports the host itself listens on (`/proc/net/*`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_types::FieldError;

/// Longest host port range one forward may take.
pub const MAX_RANGE: u16 = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    #[error("host port {port}/{protocol} is already forwarded to {instance}")]
    Forwarded {
        port: u16,
        protocol: Protocol,
        instance: String,
    },
    #[error("host port {port}/{protocol} is in use by a program on the host ({addr})")]
    Listening {
        port: u16,
        protocol: Protocol,
        addr: IpAddr,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the user asked for: host side and guest port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardSpec {
    /// The host address to listen on; `None` is every local address.
    pub listen: Option<IpAddr>,
    /// First and last host port.
    pub start: u16,
    pub end: u16,
    /// The guest port the first host port maps to (a range maps to a range of the same length).
    pub guest_port: u16,
    pub protocol: Protocol,
}

/// One forward to one instance's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Forward {
    pub instance: String,
    pub spec: ForwardSpec,
    pub guest4: Ipv4Addr,
    pub guest6: Option<Ipv6Addr>,
}

fn port(raw: &str, field: &str) -> Result<u16, FieldError> {
    match raw.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(FieldError::new(
            field,
            format!("{raw:?} is not a port (1-65535)"),
        )),
    }
}

impl ForwardSpec {
    /// Parses `8080:80`, `127.0.0.1:2222:22`, `[::]:53:53/udp`, `8000-8010:8000/tcp`.
    pub fn parse_field(raw: &str, field: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| {
            FieldError::new(
                field,
                format!("{raw:?} {why}; use [ADDR:]HOSTPORT[-END]:PORT[/tcp|udp]"),
            )
        };
        let (rest, protocol) = match raw.rsplit_once('/') {
            Some((rest, "tcp")) => (rest, Protocol::Tcp),
            Some((rest, "udp")) => (rest, Protocol::Udp),
            Some(_) => return Err(bad("has an unknown protocol")),
            None => (raw, Protocol::Tcp),
        };
        let (host, guest) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("has no guest port"))?;
        let guest_port = port(guest, field)?;
        let (listen, ports) = match host.rsplit_once(':') {
            None => (None, host),
            Some((addr, ports)) => {
                let addr = addr.trim_start_matches('[').trim_end_matches(']');
                let ip = addr
                    .parse::<IpAddr>()
                    .map_err(|_| bad(&format!("has {addr:?}, not an IP address")))?;
                if ip.is_multicast() {
                    return Err(bad("listens on a multicast address"));
                }
                (if ip.is_unspecified() { None } else { Some(ip) }, ports)
            }
        };
        if matches!(listen, Some(IpAddr::V6(v6)) if v6.is_loopback()) {
            return Err(bad(
                "listens on ::1, which cannot be forwarded; use 127.0.0.1",
            ));
        }
        let (start, end) = match ports.split_once('-') {
            Some((a, b)) => (port(a, field)?, port(b, field)?),
            None => (port(ports, field)?, port(ports, field)?),
        };
        if end < start || end - start >= MAX_RANGE {
            return Err(bad(&format!(
                "has a bad range; at most {MAX_RANGE} ports, low-high"
            )));
        }
        if u32::from(guest_port) + u32::from(end - start) > 65535 {
            return Err(bad("maps past guest port 65535"));
        }
        Ok(Self {
            listen,
            start,
            end,
            guest_port,
            protocol,
        })
    }

    fn overlaps(&self, protocol: Protocol, start: u16, end: u16, addr: Option<IpAddr>) -> bool {
        let addrs = match (self.listen, addr) {
            (Some(a), Some(b)) => a == b || a.is_unspecified() || b.is_unspecified(),
            _ => true,
        };
        self.protocol == protocol && addrs && self.start <= end && start <= self.end
    }
}

/// A socket the host listens on (TCP) or is bound to (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub protocol: Protocol,
    pub addr: IpAddr,
    pub port: u16,
}

/// Refuses `new` when its host ports are already forwarded (in `existing`) or held by a host
/// program (`listening`), naming the first port that clashes.
pub fn check_conflicts(
    new: &ForwardSpec,
    existing: &[Forward],
    listening: &[Listener],
) -> Result<(), ForwardError> {
    for other in existing {
        let o = &other.spec;
        if new.overlaps(o.protocol, o.start, o.end, o.listen) {
            return Err(ForwardError::Forwarded {
                port: new.start.max(o.start),
                protocol: new.protocol,
                instance: other.instance.clone(),
            });
        }
    }
    for l in listening {
        if l.addr.is_loopback() && new.listen.is_some_and(|a| !a.is_loopback()) {
            continue;
        }
        if new.overlaps(l.protocol, l.port, l.port, Some(l.addr)) {
            return Err(ForwardError::Listening {
                port: l.port,
                protocol: l.protocol,
                addr: l.addr,
            });
        }
    }
    Ok(())
}

/// Host sockets from `/proc/net/{tcp,tcp6,udp,udp6}`: TCP in LISTEN, every bound UDP socket.
/// Only the caller's netns is seen. Unreadable files are skipped.
pub fn host_listeners() -> Vec<Listener> {
    let mut out = Vec::new();
    for (file, protocol) in [
        ("/proc/net/tcp", Protocol::Tcp),
        ("/proc/net/tcp6", Protocol::Tcp),
        ("/proc/net/udp", Protocol::Udp),
        ("/proc/net/udp6", Protocol::Udp),
    ] {
        if let Ok(text) = std::fs::read_to_string(file) {
            out.extend(parse_proc_net(&text, protocol));
        }
    }
    out
}

/// Parses one `/proc/net/{tcp,udp}[6]` table (addresses are printed as native-endian words).
pub fn parse_proc_net(text: &str, protocol: Protocol) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            if protocol == Protocol::Tcp && state != "0A" {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            let addr = match addr.len() {
                8 => IpAddr::V4(Ipv4Addr::from(
                    u32::from_str_radix(addr, 16).ok()?.to_ne_bytes(),
                )),
                32 => {
                    let mut bytes = [0u8; 16];
                    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                        let word = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
                        chunk.copy_from_slice(&word.to_ne_bytes());
                    }
                    IpAddr::V6(Ipv6Addr::from(bytes))
                }
                _ => return None,
            };
            (port != 0).then_some(Listener {
                protocol,
                addr,
                port,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
