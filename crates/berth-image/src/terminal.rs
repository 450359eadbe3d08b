//! The pseudo-terminal a bootstrapper writes to (so it draws progress bars), read back as
//! pieces of text.

use std::os::fd::OwnedFd;

/// A pseudo-terminal, 120 columns wide: (the child's end, ours).
pub fn open() -> Result<(OwnedFd, OwnedFd), nix::Error> {
    let size = nix::pty::Winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None)?;
    Ok((pty.slave, pty.master))
}

/// Our end of the terminal as pieces of text split at `\r` and `\n`, read on a thread of its
/// own; it ends when every process holding the other end has gone (EIO) or a read fails.
pub fn read_pieces(master: OwnedFd) -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut file = std::fs::File::from(master);
        let mut buffer = [0u8; 4096];
        let mut pending: Vec<u8> = Vec::new();
        while let Ok(n) = file.read(&mut buffer) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buffer[..n]);
            while let Some(at) = pending.iter().position(|b| *b == b'\r' || *b == b'\n') {
                let piece: Vec<u8> = pending.drain(..=at).collect();
                let text = String::from_utf8_lossy(&piece[..at]).into_owned();
                if tx.blocking_send(text).is_err() {
                    return;
                }
            }
            // A line longer than any the tools print is passed on as it is.
            if pending.len() > 64 * 1024 {
                let text = String::from_utf8_lossy(&std::mem::take(&mut pending)).into_owned();
                if tx.blocking_send(text).is_err() {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let _ = tx.blocking_send(String::from_utf8_lossy(&pending).into_owned());
        }
    });
    rx
}

/// In the child, before exec: a new session, and its stderr (the terminal) as the session's
/// controlling terminal.
pub fn take_as_controlling() -> std::io::Result<()> {
    // SAFETY: setsid and ioctl(TIOCSCTTY) take no pointers; fd 2 is the terminal the parent
    // set as stderr.
    unsafe {
        if libc::setsid() < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::ioctl(2, libc::TIOCSCTTY, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
