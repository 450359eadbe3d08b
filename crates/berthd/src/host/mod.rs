//! The host as a place for guests: the kernel limits berthd raises at start (`[host]`,
//! [`sysctl`]) and the capacity left for more guests ([`capacity`]).

pub mod capacity;
pub mod sysctl;
