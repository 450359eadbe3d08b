//! Private files (keys, the initial admin password): created with mode 0600 from the start,
//! written to a temporary sibling and renamed into place so no reader sees half a file.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Creates `dir` (and parents) with mode 0700 if it does not exist.
pub(crate) fn private_dir(dir: &Path) -> Result<(), FileError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| FileError::Write {
            path: dir.to_owned(),
            source,
        })
}

/// Writes `data` to `path` with mode 0600, replacing any file there atomically.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<(), FileError> {
    let err = |source| FileError::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(
        ".tmp{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Reads a private file; `None` if it does not exist. A file others can read is tightened to
/// 0600 first.
pub(crate) fn read_private(path: &Path) -> Result<Option<Vec<u8>>, FileError> {
    let err = |source| FileError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    fs::read(path).map(Some).map_err(err)
}

#[cfg(test)]
pub(crate) fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_replaced_whole() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub/key");
        private_dir(&dir.path().join("sub"))?;
        assert_eq!(mode(&dir.path().join("sub")), 0o700);
        assert_eq!(read_private(&path)?, None);
        write_private(&path, b"one")?;
        assert_eq!(mode(&path), 0o600);
        write_private(&path, b"two")?;
        assert_eq!(read_private(&path)?.as_deref(), Some(&b"two"[..]));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
        read_private(&path)?;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read_dir(dir.path().join("sub"))?.count(), 1);
        Ok(())
    }
}
