//! [`SledDb`] and [`SledStore`]: the on-disk backend, on sled 0.34.
//!
//! One sled `Db` per data directory. Each named store is one sled `Tree`;
//! one more tree, shared by all stores, holds each store's positions as a
//! single value keyed by the store's name. A commit is one sled transaction
//! over the store's tree and the positions tree, which sled recovers
//! atomically after a crash. Flushing is database-wide and also advances the
//! flush epoch (see [`crate::flush_epoch`]), which turns sled's silent
//! recovery of a damaged log into [`StateError::Corrupt`].

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::batch::{Positions, WriteBatch};
use crate::error::{Result, StateError};
use crate::flush_epoch;
use crate::positions_codec;
use crate::store::{StateIter, StateStore};

/// sled's page cache for the whole directory.
const CACHE_BYTES: u64 = 128 << 20;
/// Tree holding every store's positions.
const POSITIONS_TREE: &str = "__sluice_positions";
/// Key in sled's default tree that marks a directory as ours.
const FORMAT_KEY: &[u8] = b"sluice-state/format";
const FORMAT_VERSION: &[u8] = b"1";
/// Key in sled's default tree holding the last flush epoch (see
/// [`flush_epoch`]).
const EPOCH_KEY: &[u8] = b"sluice-state/flush-epoch";
/// sled's own default tree; listed by `tree_names`.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

/// An open data directory. Cheap to clone; all clones share one sled `Db`
/// (and its lock on the directory). Hand out per-operator handles with
/// [`SledDb::store`].
#[derive(Clone)]
pub struct SledDb {
    shared: Arc<Shared>,
}

/// What every handle on one directory shares.
struct Shared {
    db: sled::Db,
    positions: sled::Tree,
    path: PathBuf,
    /// The last flush epoch made durable. Held across a flush so that
    /// flushes are serialised and the epoch only moves forward.
    flushed: Mutex<u64>,
}

impl Shared {
    fn flush(&self) -> Result<()> {
        let mut flushed = self.flushed.lock().unwrap_or_else(|e| e.into_inner());
        let next = *flushed + 1;
        self.db
            .insert(EPOCH_KEY, &next.to_be_bytes()[..])
            .map_err(|e| map_err(&self.path, "", e))?;
        self.db.flush().map_err(|e| map_err(&self.path, "", e))?;
        flush_epoch::write(&self.path, next)?;
        *flushed = next;
        Ok(())
    }
}

impl std::fmt::Debug for SledDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledDb")
            .field("path", &self.shared.path)
            .finish()
    }
}

impl SledDb {
    /// Open (creating if needed) the data directory `dir`.
    ///
    /// Errors: [`StateError::Unusable`] if the directory cannot be created or
    /// written, [`StateError::Locked`] if another process has it open, and
    /// [`StateError::Corrupt`] if its contents cannot be recovered, have lost
    /// data that a [`flush`](Self::flush) had made durable, or were not
    /// written by this crate: delete the directory and rebuild. (A process
    /// killed during the very first open of a directory can also leave it
    /// `Corrupt`; it held no state yet.)
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().to_path_buf();
        let unusable = |source| StateError::Unusable {
            path: path.clone(),
            source,
        };
        let corrupt = |detail| StateError::Corrupt {
            path: path.clone(),
            detail,
        };
        std::fs::create_dir_all(&path).map_err(unusable)?;
        if !path.is_dir() {
            return Err(unusable(std::io::Error::other("not a directory")));
        }
        let side_epoch = flush_epoch::read(&path)
            .map_err(unusable)?
            .map_err(corrupt)?;
        let log_len = match std::fs::metadata(path.join("db")) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(unusable(e)),
        };
        let existing = side_epoch.is_some() || log_len > 0;

        // sled's page cache defaults to 1 GiB; state must fit in far less memory than that
        // (operators keep their own caches of decoded entries in front of it).
        let config = sled::Config::new().path(&path).cache_capacity(CACHE_BYTES);
        // sled can panic on some kinds of damaged files instead of returning
        // `Error::Corruption`; treat that as corruption too.
        let opened = catch_unwind(AssertUnwindSafe(|| config.open())).map_err(|panic| {
            corrupt(format!(
                "storage engine panicked during recovery: {}",
                panic_message(&panic)
            ))
        })?;
        let db = opened.map_err(|e| open_error(&path, e))?;
        check_format(&db, &path, existing)?;

        let log_epoch = match db.get(EPOCH_KEY).map_err(|e| open_error(&path, e))? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| corrupt("malformed flush epoch".into()))?,
            ),
            None => 0,
        };
        if let Some(side_epoch) = side_epoch {
            if log_epoch < side_epoch {
                return Err(corrupt(format!(
                    "flushed data was lost: the log recovers to flush epoch {log_epoch}, \
                     but epoch {side_epoch} had been flushed"
                )));
            }
        }
        let positions = db
            .open_tree(POSITIONS_TREE)
            .map_err(|e| open_error(&path, e))?;
        tracing::debug!(
            path = %path.display(),
            recovered = existing,
            flush_epoch = log_epoch,
            "opened state directory"
        );
        let shared = Shared {
            db,
            positions,
            path,
            flushed: Mutex::new(log_epoch.max(side_epoch.unwrap_or(0))),
        };
        if !existing {
            // Make the format marker durable and start the side file.
            shared.flush()?;
        }
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// A handle to the store `name`, created empty if it does not exist.
    /// Names must be non-empty and must not start with `__` (reserved).
    pub fn store(&self, name: &str) -> Result<SledStore> {
        validate_name(name)?;
        let state = self
            .shared
            .db
            .open_tree(name)
            .map_err(|e| map_err(&self.shared.path, name, e))?;
        Ok(SledStore {
            name: name.into(),
            state,
            shared: self.shared.clone(),
        })
    }

    /// Names of the stores in this directory, sorted.
    pub fn store_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .shared
            .db
            .tree_names()
            .into_iter()
            .filter(|n| !n.starts_with(b"__"))
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect();
        names.sort();
        names
    }

    /// Delete the store `name` and its positions, and flush. Returns whether
    /// the store existed. Handles to the store must not be used afterwards.
    ///
    /// Not atomic across a crash: positions are removed first, so a crash in
    /// between leaves state without positions. Do not reuse the name of a
    /// dropped store without checking it is empty.
    pub fn drop_store(&self, name: &str) -> Result<bool> {
        validate_name(name)?;
        let err = |e| map_err(&self.shared.path, name, e);
        self.shared.positions.remove(name).map_err(err)?;
        let existed = self.shared.db.drop_tree(name).map_err(err)?;
        self.flush()?;
        Ok(existed)
    }

    /// Make everything committed so far, in all stores, durable (fsync).
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
    }
}

/// One named store in a [`SledDb`]. Cheap to clone.
#[derive(Clone)]
pub struct SledStore {
    name: Arc<str>,
    state: sled::Tree,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.shared.path)
            .field("name", &self.name)
            .finish()
    }
}

impl SledStore {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, e: sled::Error) -> StateError {
        map_err(&self.shared.path, &self.name, e)
    }

    /// How many entries the store holds and their key + value bytes (logical size, not the
    /// space sled uses on disk). Walks the whole store: O(entries), for introspection only.
    pub fn footprint(&self) -> Result<(u64, u64)> {
        let mut entries = 0u64;
        let mut bytes = 0u64;
        for r in self.state.iter() {
            let (k, v) = r.map_err(|e| self.err(e))?;
            entries += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn iter(&self, it: sled::Iter) -> StateIter<'_> {
        Box::new(it.map(move |r| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(|e| self.err(e))
        }))
    }
}

impl StateStore for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.state
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| self.err(e))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<StateIter<'_>> {
        Ok(self.iter(self.state.scan_prefix(prefix)))
    }

    fn scan_range(&self, range: Range<&[u8]>) -> Result<StateIter<'_>> {
        if range.start >= range.end {
            return Ok(Box::new(std::iter::empty()));
        }
        Ok(self.iter(self.state.range(range)))
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let (writes, new_positions) = batch.into_parts();
        let write_count = writes.len();
        let mut state_batch = sled::Batch::default();
        for (k, v) in writes {
            match v {
                Some(v) => state_batch.insert(k, v),
                None => state_batch.remove(k),
            }
        }
        let name: &str = &self.name;
        let result = (&self.state, &self.shared.positions).transaction(|(state, positions)| {
            state.apply_batch(&state_batch)?;
            if !new_positions.is_empty() {
                let mut merged = match positions.get(name)? {
                    Some(bytes) => positions_codec::decode(&bytes)
                        .map_err(ConflictableTransactionError::Abort)?,
                    None => Positions::new(),
                };
                merged.extend(new_positions.iter().map(|(k, v)| (k.clone(), *v)));
                positions.insert(name, positions_codec::encode(&merged))?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                tracing::trace!(
                    store = name,
                    writes = write_count,
                    positions = new_positions.len(),
                    "committed batch"
                );
                Ok(())
            }
            Err(TransactionError::Abort(detail)) => Err(StateError::Corrupt {
                path: self.shared.path.clone(),
                detail: format!("positions of store {name:?}: {detail}"),
            }),
            Err(TransactionError::Storage(e)) => Err(self.err(e)),
        }
    }

    fn positions(&self) -> Result<Positions> {
        // One value per store, so this read is atomic with respect to commits.
        match self
            .shared
            .positions
            .get(&*self.name)
            .map_err(|e| self.err(e))?
        {
            Some(bytes) => positions_codec::decode(&bytes).map_err(|detail| StateError::Corrupt {
                path: self.shared.path.clone(),
                detail: format!("positions of store {:?}: {detail}", self.name),
            }),
            None => Ok(Positions::new()),
        }
    }

    fn flush(&self) -> Result<()> {
        self.shared.flush()
    }
}

fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.starts_with("__") {
        "names starting with `__` are reserved"
    } else {
        return Ok(());
    };
    Err(StateError::InvalidName {
        name: name.to_string(),
        reason,
    })
}

/// Refuse directories whose recovered contents lack our format marker;
/// stamp new ones. `existing` says whether the directory held data before
/// this open.
fn check_format(db: &sled::Db, path: &Path, existing: bool) -> Result<()> {
    let corrupt = |detail: String| StateError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    match db.get(FORMAT_KEY).map_err(|e| open_error(path, e))? {
        Some(v) if v == FORMAT_VERSION => Ok(()),
        Some(v) => Err(corrupt(format!(
            "unknown state format version {:?}",
            String::from_utf8_lossy(&v)
        ))),
        None if existing => Err(corrupt(
            "existing data recovered without the sluice-state format marker: \
             the log is damaged or was not written by sluice-state"
                .into(),
        )),
        None => {
            let fresh = db.is_empty() && db.tree_names().iter().all(|n| n == SLED_DEFAULT_TREE);
            if !fresh {
                return Err(corrupt("unexpected data in a new state directory".into()));
            }
            db.insert(FORMAT_KEY, FORMAT_VERSION)
                .map_err(|e| open_error(path, e))?;
            Ok(())
        }
    }
}

/// Classify an error from opening or recovering a directory.
fn open_error(path: &Path, e: sled::Error) -> StateError {
    let path = path.to_path_buf();
    match e {
        sled::Error::Io(io) => {
            let detail = io.to_string();
            if detail.contains("could not acquire lock") {
                StateError::Locked { path, detail }
            } else if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) {
                StateError::Corrupt { path, detail }
            } else {
                StateError::Unusable { path, source: io }
            }
        }
        sled::Error::Corruption { at, .. } => StateError::Corrupt {
            path,
            detail: format!("checksum or structure failure at {at:?}"),
        },
        // Raised for incompatible on-disk configuration or versions, and for
        // inconsistencies found while recovering: either way the files
        // cannot be used as they are.
        sled::Error::Unsupported(detail) | sled::Error::ReportableBug(detail) => {
            StateError::Corrupt { path, detail }
        }
        other => StateError::Backend(other.to_string()),
    }
}

/// Classify an error from using an open store.
fn map_err(path: &Path, name: &str, e: sled::Error) -> StateError {
    match e {
        sled::Error::Io(io) => StateError::Io(io),
        sled::Error::Corruption { at, .. } => StateError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("checksum or structure failure at {at:?}"),
        },
        sled::Error::CollectionNotFound(_) => StateError::Dropped {
            name: name.to_string(),
        },
        other => StateError::Backend(other.to_string()),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::contract_tests;

    fn with_store(f: &dyn Fn(&dyn StateStore)) {
        let dir = tempfile::tempdir().unwrap();
        let db = SledDb::open(dir.path()).unwrap();
        let store = db.store("test").unwrap();
        f(&store);
    }

    contract_tests!(with_store);

    fn batch(puts: &[(&str, &str)], positions: &[(&str, i32, i64)]) -> WriteBatch {
        let mut b = WriteBatch::new();
        for (k, v) in puts {
            b.put(*k, *v);
        }
        for (t, p, o) in positions {
            b.set_position(*t, *p, *o);
        }
        b
    }

    #[test]
    fn reopen_sees_committed_state_and_positions() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = SledDb::open(dir.path()).unwrap();
            let s = db.store("agg").unwrap();
            s.commit(batch(&[("a", "1"), ("b", "2")], &[("orders", 0, 10)]))
                .unwrap();
            let mut b = batch(&[("c", "3")], &[("orders", 1, 4)]);
            b.delete("a");
            s.commit(b).unwrap();
            s.flush().unwrap();
        }
        let db = SledDb::open(dir.path()).unwrap();
        assert_eq!(db.store_names(), vec!["agg".to_string()]);
        let s = db.store("agg").unwrap();
        let all: Vec<_> = s.scan_prefix(b"").unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(
            all,
            vec![
                (b"b".to_vec(), b"2".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        let p = s.positions().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[&("orders".to_string(), 0)], 10);
        assert_eq!(p[&("orders".to_string(), 1)], 4);
    }

    #[test]
    fn footprint_counts_entries_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let db = SledDb::open(dir.path()).unwrap();
        let store = db.store("q").unwrap();
        assert_eq!(store.footprint().unwrap(), (0, 0));
        store
            .commit(batch(&[("ab", "cde"), ("f", "")], &[("t", 0, 5)]))
            .unwrap();
        // positions are kept apart from the state and not counted
        assert_eq!(store.footprint().unwrap(), (2, 6));
    }

    #[test]
    fn stores_are_isolated() {
        let dir = tempfile::tempdir().unwrap();
        let db = SledDb::open(dir.path()).unwrap();
        let a = db.store("a").unwrap();
        let ab = db.store("ab").unwrap();
        a.commit(batch(&[("k", "in a")], &[("t", 0, 1)])).unwrap();
        ab.commit(batch(&[("k", "in ab")], &[("t", 0, 2)])).unwrap();
        assert_eq!(a.get(b"k").unwrap().unwrap(), b"in a");
        assert_eq!(ab.get(b"k").unwrap().unwrap(), b"in ab");
        assert_eq!(a.positions().unwrap()[&("t".to_string(), 0)], 1);
        assert_eq!(ab.positions().unwrap()[&("t".to_string(), 0)], 2);
        assert_eq!(db.store_names(), vec!["a".to_string(), "ab".to_string()]);
    }

    #[test]
    fn drop_store_removes_state_and_positions() {
        let dir = tempfile::tempdir().unwrap();
        let db = SledDb::open(dir.path()).unwrap();
        let s = db.store("gone").unwrap();
        s.commit(batch(&[("k", "v")], &[("t", 0, 5)])).unwrap();
        drop(s);
        assert!(db.drop_store("gone").unwrap());
        assert!(!db.drop_store("gone").unwrap());
        assert!(db.store_names().is_empty());
        let s = db.store("gone").unwrap();
        assert_eq!(s.get(b"k").unwrap(), None);
        assert!(s.positions().unwrap().is_empty());
    }

    #[test]
    fn reserved_and_empty_names_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let db = SledDb::open(dir.path()).unwrap();
        for name in ["", "__sled__default", POSITIONS_TREE, "__x"] {
            assert!(
                matches!(db.store(name), Err(StateError::InvalidName { .. })),
                "{name:?} accepted"
            );
        }
    }

    #[test]
    fn file_in_place_of_directory_is_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"not a directory").unwrap();
        let err = SledDb::open(&file).unwrap_err();
        assert!(matches!(err, StateError::Unusable { .. }), "{err}");
        let err = SledDb::open(file.join("below")).unwrap_err();
        assert!(matches!(err, StateError::Unusable { .. }), "{err}");
    }

    #[test]
    fn second_open_of_a_directory_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _db = SledDb::open(dir.path()).unwrap();
        let err = SledDb::open(dir.path()).unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err}");
    }

    #[test]
    fn foreign_sled_database_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        {
            let foreign = sled::open(dir.path()).unwrap();
            foreign.insert(b"someone", b"else").unwrap();
            foreign.flush().unwrap();
        }
        let err = SledDb::open(dir.path()).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    }

    /// A directory holding 200 flushed batches, closed.
    fn populated_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let db = SledDb::open(dir.path()).unwrap();
        let s = db.store("s").unwrap();
        for i in 0..200u32 {
            let mut b = WriteBatch::new();
            b.put(i.to_be_bytes(), vec![7u8; 500])
                .set_position("t", 0, i64::from(i));
            s.commit(b).unwrap();
        }
        s.flush().unwrap();
        dir
    }

    fn assert_corrupt(dir: &Path, what: &str) {
        match SledDb::open(dir) {
            Err(StateError::Corrupt { detail, .. }) => assert!(!detail.is_empty()),
            Err(other) => panic!("{what}: expected Corrupt, got {other}"),
            Ok(db) => {
                let s = db.store("s").unwrap();
                panic!(
                    "{what}: opened with {} keys",
                    s.scan_prefix(b"").unwrap().count()
                )
            }
        }
    }

    #[test]
    fn reopen_of_an_intact_directory_succeeds_repeatedly() {
        let dir = populated_dir();
        for _ in 0..3 {
            let db = SledDb::open(dir.path()).unwrap();
            let s = db.store("s").unwrap();
            assert_eq!(s.scan_prefix(b"").unwrap().count(), 200);
            assert_eq!(s.positions().unwrap()[&("t".to_string(), 0)], 199);
        }
    }

    #[test]
    fn log_overwritten_with_garbage_is_corrupt() {
        let dir = populated_dir();
        let log = dir.path().join("db");
        let len = std::fs::metadata(&log).unwrap().len() as usize;
        std::fs::write(&log, vec![0xab; len]).unwrap();
        assert_corrupt(dir.path(), "garbage log");
    }

    #[test]
    fn log_damaged_in_the_middle_is_corrupt() {
        // sled alone would recover the prefix before the damage and report
        // success; the flush epoch notices the lost tail.
        let dir = populated_dir();
        let log = dir.path().join("db");
        let mut bytes = std::fs::read(&log).unwrap();
        let third = bytes.len() / 3;
        for b in &mut bytes[third..third + 4096] {
            *b ^= 0x5a;
        }
        std::fs::write(&log, bytes).unwrap();
        assert_corrupt(dir.path(), "damaged log");
    }

    #[test]
    fn truncated_log_is_corrupt() {
        let dir = populated_dir();
        let log = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("db"))
            .unwrap();
        let len = log.metadata().unwrap().len();
        log.set_len(len / 2).unwrap();
        drop(log);
        assert_corrupt(dir.path(), "truncated log");
    }

    #[test]
    fn damaged_config_is_corrupt() {
        let dir = populated_dir();
        std::fs::write(dir.path().join("conf"), vec![0x11; 64]).unwrap();
        assert_corrupt(dir.path(), "damaged conf");
    }

    #[test]
    fn damaged_flush_epoch_file_is_corrupt() {
        let dir = populated_dir();
        std::fs::write(flush_epoch::path(dir.path()), "garbage").unwrap();
        assert_corrupt(dir.path(), "damaged side file");
    }

    #[test]
    fn damaged_positions_record_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let db = SledDb::open(dir.path()).unwrap();
        let s = db.store("s").unwrap();
        db.shared.positions.insert("s", &b"\x01\x00"[..]).unwrap();
        assert!(matches!(s.positions(), Err(StateError::Corrupt { .. })));
        let err = s.commit(batch(&[("k", "v")], &[("t", 0, 1)])).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        // The failed commit left the state untouched.
        assert_eq!(s.get(b"k").unwrap(), None);
    }
}
