//! The host as a place for guests: the kernel limits berthd raises at start (`[host]`,
//! [`sysctl`]), the capacity left for more guests ([`capacity`]) and berthd's own memory
//! ([`memory`]).

pub mod capacity;
pub mod memory;
pub mod sysctl;
