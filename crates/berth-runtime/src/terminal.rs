//! Interactive sessions: a command inside a guest on a pseudo-terminal the daemon holds the
//! master of (`berth console --shell`, `berth exec -t`). The daemon relays the master's bytes
//! and resizes it; the guest side is a new session with the pty as its controlling terminal.
//!
//! The master is read and written without blocking (epoll, no blocking thread holds it), so
//! dropping a session closes it at once: the kernel hangs the terminal up and the command in
//! the guest gets SIGHUP — detaching ends a shell (unless the user detached a process from it
//! themselves: `nohup`, `setsid`, tmux), and a stopping daemon never waits on a pty read.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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
        let flags = rustix::fs::fcntl_getfl(&master)?;
        rustix::fs::fcntl_setfl(&master, flags | rustix::fs::OFlags::NONBLOCK)?;
        let output = PtyIo::new(master.try_clone()?)?;
        let input = PtyIo::new(master.try_clone()?)?;
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

/// One descriptor of a non-blocking pty master, read and written through the reactor.
struct PtyIo(AsyncFd<OwnedFd>);

impl PtyIo {
    fn new(fd: OwnedFd) -> std::io::Result<Self> {
        // SAFETY: an `OwnedFd` is an open descriptor that stays open, and always the same one,
        // for as long as it is owned — here by the `AsyncFd`.
        Ok(Self(unsafe { AsyncFd::register(fd) }?))
    }
}

impl AsyncRead for PtyIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            let mut ready = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref().as_fd(), &mut *unfilled)?)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // The guest side closed (the command ended): the end of the output.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            let mut ready = ready!(self.0.poll_write_ready(cx))?;
            match ready.try_io(|fd| Ok(rustix::io::write(fd.get_ref().as_fd(), buf)?)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A pty pair of this process: the master for a session, the slave's path.
    fn pty() -> (OwnedFd, std::path::PathBuf) {
        let master =
            nix::pty::posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
                .expect("ptmx");
        nix::pty::grantpt(&master).expect("grant");
        nix::pty::unlockpt(&master).expect("unlock");
        // SAFETY: ptsname is not thread-safe; this test calls it once, before any other pty use.
        let name = unsafe { nix::pty::ptsname(&master) }.expect("ptsname");
        let fd = master.as_raw_fd();
        // SAFETY: `master` is forgotten below, so this is the one owner of the descriptor.
        let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        std::mem::forget(master);
        (owned, name.into())
    }

    #[tokio::test]
    async fn bytes_flow_and_dropping_the_session_hangs_the_terminal_up() {
        let (master, slave_path) = pty();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave_path)
            .expect("slave");
        let (_tx, exit) = tokio::sync::oneshot::channel();
        let mut session = TerminalSession::on_pty(master, exit).expect("session");
        session.input.write_all(b"hello\n").await.expect("write");
        let mut echoed = [0u8; 5];
        session.output.read_exact(&mut echoed).await.expect("echo");
        assert_eq!(&echoed, b"hello");
        // Nothing to read: a read is pending on the reactor, not on a blocking thread.
        let pending = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            session.output.read(&mut [0u8; 16]),
        )
        .await;
        drop(pending);
        drop(session);
        // Every copy of the master is closed: reading the slave ends (hung up) instead of
        // blocking for ever.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut slave = slave;
            let mut rest = Vec::new();
            let read = std::io::Read::read_to_end(&mut slave, &mut rest);
            let _ = done_tx.send(read.map(drop).map_err(|e| e.raw_os_error()));
        });
        let read = done_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the terminal was not hung up: a copy of the master is still open");
        assert!(matches!(read, Ok(()) | Err(Some(libc::EIO))), "{read:?}");
    }
}
