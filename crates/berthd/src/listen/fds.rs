//! Descriptor budget: berthd raises its soft `RLIMIT_NOFILE` to the hard limit, and keeps the
//! TCP connection budget small enough that the unix socket's connections and berthd's own
//! files (database, logs, guests' consoles, image builds) always have descriptors left.

/// Descriptors kept for everything that is not a client connection.
pub const RESERVED_FOR_BERTHD: u64 = 256;

/// Raises the soft descriptor limit to the hard one; returns the soft limit now in force.
pub fn raise_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through the pointer, which is valid for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the descriptor limit");
        return 1024;
    }
    if limit.rlim_cur >= limit.rlim_max {
        return limit.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads one `rlimit` through the pointer, which is valid for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            soft = limit.rlim_cur,
            hard = limit.rlim_max,
            "cannot raise the descriptor limit"
        );
        return limit.rlim_cur;
    }
    limit.rlim_max
}

/// The TCP connection budget that fits `limit` descriptors next to the socket's budget and
/// berthd's own files: `configured`, or less (with a warning) when it would not fit.
pub fn tcp_budget(configured: u32, socket_budget: u32, limit: u64) -> u32 {
    let room = limit
        .saturating_sub(RESERVED_FOR_BERTHD)
        .saturating_sub(u64::from(socket_budget));
    // Every TCP connection is one descriptor; a TLS handshake in progress is too.
    let fits = u32::try_from(room).unwrap_or(u32::MAX).max(1);
    if configured > fits {
        tracing::warn!(
            configured,
            allowed = fits,
            descriptor_limit = limit,
            "server.max_connections does not fit the descriptor limit (RLIMIT_NOFILE) next to \
             the socket's budget and berthd's own files; using the smaller number"
        );
        return fits;
    }
    configured
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tcp_budget_leaves_room_for_the_socket_and_berthd() {
        assert_eq!(tcp_budget(1024, 64, 65_536), 1024);
        assert_eq!(tcp_budget(1024, 64, 1024), 1024 - 256 - 64);
        assert_eq!(tcp_budget(1024, 64, 100), 1);
    }
}
