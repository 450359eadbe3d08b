//! Interactive sessions: a command inside a guest on a pseudo-terminal the daemon holds the
//! master of (`berth console --shell`, `berth exec -t`). The daemon relays the master's bytes
//! and resizes it; the guest side is a new session with the pty as its controlling terminal.

use std::os::fd::{AsRawFd, OwnedFd};

use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncWrite};

/// What to run on a terminal, and its initial size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub rows: u16,
    pub cols: u16,
}

/// A running session: read and write the terminal, resize it, and wait for the exit code.
pub struct TerminalSession {
    /// What the session prints.
    pub output: Box<dyn AsyncRead + Send + Unpin>,
    /// Keys to the session.
    pub input: Box<dyn AsyncWrite + Send + Unpin>,
    /// `None` when the terminal cannot be resized from here (the guest's console).
    pub resizer: Option<TerminalResizer>,
    /// The exit code once the command ends (-1, or an error, when it is unknown).
    pub exit: tokio::sync::oneshot::Receiver<i32>,
}

impl TerminalSession {
    /// A session on a pty master this process holds.
    pub fn on_pty(
        master: OwnedFd,
        exit: tokio::sync::oneshot::Receiver<i32>,
    ) -> std::io::Result<Self> {
        let output = File::from_std(std::fs::File::from(master.try_clone()?));
        let input = File::from_std(std::fs::File::from(master.try_clone()?));
        Ok(Self {
            output: Box::new(output),
            input: Box::new(input),
            resizer: Some(TerminalResizer(Resize::Pty(master))),
            exit,
        })
    }

    /// A session on a stream (the shim's console socket), with no exit code of its own.
    pub fn on_stream(stream: tokio::net::UnixStream) -> Self {
        let (read, write) = stream.into_split();
        let (_, exit) = tokio::sync::oneshot::channel();
        Self {
            output: Box::new(read),
            input: Box::new(write),
            resizer: None,
            exit,
        }
    }
}

/// Resizes a session's terminal.
pub struct TerminalResizer(Resize);

enum Resize {
    /// A pty master this process holds.
    Pty(OwnedFd),
    /// A remote terminal (proxmox termproxy): `(cols, rows)` sent to its relay.
    Remote(tokio::sync::mpsc::UnboundedSender<(u16, u16)>),
}

impl TerminalResizer {
    /// A resizer that hands `(cols, rows)` to a remote terminal's relay.
    pub fn remote(tx: tokio::sync::mpsc::UnboundedSender<(u16, u16)>) -> Self {
        Self(Resize::Remote(tx))
    }

    /// Sets the terminal size; the session's foreground process gets SIGWINCH.
    pub fn resize(&self, rows: u16, cols: u16) -> std::io::Result<()> {
        match &self.0 {
            Resize::Pty(master) => set_size(master, rows, cols),
            Resize::Remote(tx) => tx
                .send((cols.max(1), rows.max(1)))
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        }
    }
}

/// `TIOCSWINSZ` on a pty master.
pub fn set_size(master: &OwnedFd, rows: u16, cols: u16) -> std::io::Result<()> {
    let size = libc::winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which outlives the call; the
    // descriptor is an open pty master owned by the caller.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
