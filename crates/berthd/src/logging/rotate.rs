//! A log file that cannot grow without bound: when a write would take it past `max_bytes` it
//! is renamed to `FILE.1` (older ones shift to `FILE.2`, …), only `keep` rotated files stay, and
//! rotated files older than `max_age` are deleted. Files are created 0640.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// The log file; cheap to clone (one file and lock shared).
#[derive(Clone)]
pub struct RotatingFile(Arc<Inner>);

struct Inner {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    max_age: Duration,
    state: Mutex<State>,
}

struct State {
    file: File,
    size: u64,
    /// Rotated files deleted since start (beyond `keep`, or past `max_age`).
    dropped: u64,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

impl RotatingFile {
    pub fn open(
        path: &Path,
        max_bytes: u64,
        keep: u32,
        max_age: Duration,
    ) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        let inner = Inner {
            path: path.to_owned(),
            max_bytes,
            keep,
            max_age,
            state: Mutex::new(State {
                file,
                size,
                dropped: 0,
            }),
        };
        let dropped = inner.expire();
        inner.lock().dropped = dropped;
        Ok(Self(Arc::new(inner)))
    }

    /// Rotated files deleted since start.
    pub fn dropped(&self) -> u64 {
        self.0.lock().dropped
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Shifts FILE → FILE.1 → … → FILE.keep (the oldest deleted) and opens a fresh FILE.
    fn rotate(&self, state: &mut State) -> std::io::Result<()> {
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
            state.dropped += 1;
        } else {
            if std::fs::remove_file(self.rotated(self.keep)).is_ok() {
                state.dropped += 1;
            }
            for n in (1..self.keep).rev() {
                let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        state.file = open_append(&self.path)?;
        state.size = 0;
        state.dropped += self.expire();
        Ok(())
    }

    /// Deletes rotated files older than `max_age`; how many.
    fn expire(&self) -> u64 {
        let now = SystemTime::now();
        let mut removed = 0;
        for n in 1..=self.keep.max(1) {
            let path = self.rotated(n);
            let old = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|at| now.duration_since(at).unwrap_or_default() > self.max_age);
            if old && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn write(&self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut state = self.lock();
        let len = bytes.len() as u64;
        if state.size > 0 && state.size.saturating_add(len) > self.max_bytes {
            self.rotate(&mut state)?;
        }
        // A single line longer than a whole file is cut, never written past the cap.
        let room = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        let kept = &bytes[..bytes.len().min(room)];
        state.file.write_all(kept)?;
        state.size = state.size.saturating_add(kept.len() as u64);
        Ok(bytes.len())
    }
}

/// One event's writer.
pub struct Writer(Arc<Inner>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().file.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingFile {
    type Writer = Writer;

    fn make_writer(&'a self) -> Self::Writer {
        Writer(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    #[test]
    fn the_files_stay_under_size_times_count() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berthd.log");
        let log = RotatingFile::open(&path, 10_000, 3, Duration::from_secs(3600))?;
        let line = [b'x'; 999];
        let mut writer = tracing_subscriber::fmt::MakeWriter::make_writer(&log);
        for _ in 0..1000 {
            writer.write_all(&line)?;
            writer.write_all(b"\n")?;
        }
        // The current file and three rotated ones, each at most 10 kB: ~1 MB was written.
        assert!(
            total(dir.path()) <= 4 * 10_000,
            "{} bytes",
            total(dir.path())
        );
        assert!(path.with_extension("log.3").exists());
        assert!(!path.with_extension("log.4").exists());
        assert!(log.dropped() > 90, "{} files dropped", log.dropped());
        let huge = vec![b'y'; 50_000];
        writer.write_all(&huge)?;
        assert!(std::fs::metadata(&path)?.len() <= 10_000);
        Ok(())
    }

    #[test]
    fn rotated_files_past_their_age_go() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("berthd.log");
        std::fs::write(path.with_extension("log.1"), "old")?;
        let old = SystemTime::now() - Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(path.with_extension("log.1"))?
            .set_modified(old)?;
        let log = RotatingFile::open(&path, 10_000, 3, Duration::from_secs(3600))?;
        assert!(!path.with_extension("log.1").exists());
        assert_eq!(log.dropped(), 1);
        Ok(())
    }
}
