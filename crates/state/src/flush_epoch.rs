//! The flush epoch: detects a sled directory that silently lost flushed data.
//!
//! sled treats a damaged log as the end of the log: it recovers the prefix
//! before the damage and reports success. Each flush therefore bumps an epoch
//! that is written both into the database (just before the fsync) and, after
//! the fsync returned, into a small side file outside sled's log. On open,
//! an epoch in the database lower than the side file's means flushed data was
//! lost and the directory is reported corrupt.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the side file in the data directory.
pub(crate) const FILE_NAME: &str = "sluice-flushed";
const HEADER: &str = "sluice-state flushed-epoch v1";

pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The epoch recorded in the side file; `Ok(None)` if there is no file,
/// `Err(detail)` if it exists but cannot be parsed.
pub(crate) fn read(dir: &Path) -> std::io::Result<Result<Option<u64>, String>> {
    let text = match fs::read_to_string(path(dir)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Ok(Err(format!("{FILE_NAME} is not UTF-8")))
        }
        Err(e) => return Err(e),
    };
    let mut lines = text.lines();
    let parsed = match (lines.next(), lines.next(), lines.next()) {
        (Some(HEADER), Some(epoch), None) => epoch.parse::<u64>().ok(),
        _ => None,
    };
    Ok(parsed
        .map(Some)
        .ok_or_else(|| format!("{FILE_NAME} is malformed: {text:?}")))
}

/// Durably replace the side file with `epoch` (write, fsync, rename, fsync
/// the directory).
pub(crate) fn write(dir: &Path, epoch: u64) -> std::io::Result<()> {
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    writeln!(f, "{HEADER}\n{epoch}")?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path(dir))?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), Ok(None));
        write(dir.path(), 7).unwrap();
        write(dir.path(), 8).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Ok(Some(8)));
        fs::write(path(dir.path()), "sluice-state flushed-epoch v1\nx\n").unwrap();
        assert!(read(dir.path()).unwrap().is_err());
        fs::write(path(dir.path()), [0xff, 0xfe]).unwrap();
        assert!(read(dir.path()).unwrap().is_err());
    }
}
