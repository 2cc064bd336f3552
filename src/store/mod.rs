//! The durable visit counter: one writer process per data directory, atomic file
//! replacement, and overlapping group commits.
//!
//! A visit is acknowledged only once a count that includes it is on disk. A commit
//! writes a temp file, fsyncs it, renames it over `visits` and fsyncs the directory,
//! so after a crash at any moment `visits` holds a complete count. A commit costs from
//! half a millisecond to several on a busy disk, so visits are committed in batches.
//!
//! - `file`: the format, the directory lock, leftovers, the atomic forward-only replace;
//! - `commit`: the group-commit scheduler and its writer threads;
//! - `fs`: the file-system seam through which every file operation goes;
//! - this file: the `VisitStore` handle the service uses.

mod commit;
mod file;
pub mod fs;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use commit::{GroupCommit, WRITERS};
use file::CountFile;
pub use file::{LOCK_FILE, TEMP_PREFIX, VISITS_FILE, format_count, parse_count};
use fs::{FileSystem, OsFileSystem};

/// The writers only write files and format one integer.
const WRITER_STACK_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot write to the data directory {dir}: {cause}. Mount it read-write and make it \
         writable by the user the service runs as (in Kubernetes: fsGroup), or set DATA_DIR to \
         a writable directory"
    )]
    NotWritable { dir: PathBuf, cause: io::Error },

    #[error(
        "the data directory {dir} is already in use by another app-rust process ({holder}); only \
         one process may write a data directory. Stop the other process or point DATA_DIR elsewhere"
    )]
    Locked { dir: PathBuf, holder: String },

    #[error(
        "{path} does not hold a visit count: found {found}. Refusing to start rather than reset \
         the count; restore the file from a backup or correct it (a decimal integer and a newline; \
         a missing file means 0)"
    )]
    Corrupt { path: PathBuf, found: String },

    #[error("failed to {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: io::Error,
    },

    #[error("the visit was not saved because writing the count failed: {0}")]
    WriteFailed(Arc<str>),

    #[error(
        "the visit was not counted because the count is at its maximum ({count}); this replica \
         cannot count more visits (restore a smaller count to its data directory)"
    )]
    CountExhausted { count: u64 },

    #[error("the visit was not saved because the service is shutting down")]
    Closed,

    #[error(
        "refusing to lower the count in {path} from {current} to {requested}: the visits counted \
         since the backup would be lost. Pass --allow-lower if that is what you want"
    )]
    WouldLower {
        path: PathBuf,
        current: u64,
        requested: u64,
    },

    #[error("the visit store's writer threads stopped unexpectedly")]
    WriterGone,
}

/// Whether the store can take visits, for readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ready,
    /// The newest commit failed; writers retry until one succeeds.
    WriteFailing,
    /// The count is at `u64::MAX`: no visit can be counted.
    CountExhausted,
}

/// Told about every commit a writer attempts, so metrics can live elsewhere.
pub trait CommitObserver: Send + Sync + 'static {
    fn on_commit(&self, elapsed: Duration, batch_size: usize, ok: bool);
}

/// An observer that ignores commits, for callers that need no metrics.
pub struct NoopObserver;

impl CommitObserver for NoopObserver {
    fn on_commit(&self, _elapsed: Duration, _batch_size: usize, _ok: bool) {}
}

/// What a restore replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// A valid count (0 when there was no file).
    Count(u64),
    /// A file that was not a count, quoted.
    Corrupt(String),
}

/// Writes `count` into the data directory as the service would (under the directory lock,
/// atomically, fsynced), for restoring a backup. Refuses while a service holds the directory,
/// and refuses to lower a valid count unless `allow_lower`. A corrupt file is replaced.
pub fn restore(data_dir: &Path, count: u64, allow_lower: bool) -> Result<Replaced, StoreError> {
    let file = CountFile::lock(Arc::new(OsFileSystem), data_dir)?;
    let replaced = match file.load() {
        Ok(current) => Replaced::Count(current),
        Err(StoreError::Corrupt { found, .. }) => Replaced::Corrupt(found),
        Err(other) => return Err(other),
    };
    if let Replaced::Count(current) = replaced
        && count < current
        && !allow_lower
    {
        return Err(StoreError::WouldLower {
            path: file.path().to_path_buf(),
            current,
            requested: count,
        });
    }
    file.replace(count)?;
    file.release();
    Ok(replaced)
}

/// A handle to the counter of one data directory. Clones share the same counter.
#[derive(Clone)]
pub struct VisitStore {
    handle: Arc<Handle>,
}

impl fmt::Debug for VisitStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VisitStore")
            .field("data_file", &self.data_file())
            .field("current", &self.current())
            .field("durable", &self.durable())
            .finish()
    }
}

/// Closes the store when the last clone goes away, so the writer threads end and the
/// directory lock is released even if nobody called `close`.
struct Handle {
    group: Arc<GroupCommit>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.group.request_close(None);
    }
}

impl VisitStore {
    /// Takes ownership of `data_dir` (creating it if needed): locks it, loads the count
    /// and proves the directory writable by committing the loaded count, then starts the
    /// writers.
    pub fn open(data_dir: &Path, observer: Arc<dyn CommitObserver>) -> Result<Self, StoreError> {
        VisitStore::open_on(Arc::new(OsFileSystem), data_dir, observer)
    }

    /// `open` with every file operation going through `fs`.
    pub fn open_on(
        fs: Arc<dyn FileSystem>,
        data_dir: &Path,
        observer: Arc<dyn CommitObserver>,
    ) -> Result<Self, StoreError> {
        let (file, count) = CountFile::open(fs, data_dir)?;
        let group = Arc::new(GroupCommit::new(file, count, observer));
        for writer in 0..WRITERS {
            let writer_group = Arc::clone(&group);
            let spawned = thread::Builder::new()
                .name(format!("visits-writer-{writer}"))
                .stack_size(WRITER_STACK_BYTES)
                .spawn(move || writer_group.run_writer(writer));
            if let Err(cause) = spawned {
                // The writers already running stop once the store is closed.
                group.request_close(None);
                return Err(StoreError::Io {
                    action: "start a writer thread for",
                    path: data_dir.to_path_buf(),
                    cause,
                });
            }
        }
        tracing::info!(file = %group.file().path().display(), visits = count, "visit count loaded");
        Ok(Self {
            handle: Arc::new(Handle { group }),
        })
    }

    /// Counts one visit and resolves once a count that includes it is durable on disk,
    /// with the number this visit got.
    pub async fn record_visit(&self) -> Result<u64, StoreError> {
        let acked = self.handle.group.record()?;
        acked.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Every visit counted so far, including those whose commit is still running or failed.
    pub fn current(&self) -> u64 {
        self.handle.group.current()
    }

    /// The count last known to be on disk.
    pub fn durable(&self) -> u64 {
        self.handle.group.durable()
    }

    pub fn health(&self) -> Health {
        if !self.handle.group.is_healthy() {
            Health::WriteFailing
        } else if self.current() == u64::MAX {
            Health::CountExhausted
        } else {
            Health::Ready
        }
    }

    pub fn data_file(&self) -> &Path {
        self.handle.group.file().path()
    }

    /// Writes the final count, stops the writers and releases the directory lock. Visits
    /// already waiting are committed first; visits after this return `Closed`. Fails when
    /// some counted visit could not be made durable.
    pub async fn close(&self) -> Result<u64, StoreError> {
        let (done, closed) = tokio::sync::oneshot::channel();
        self.handle.group.request_close(Some(done));
        match closed.await {
            Ok(Ok(count)) => Ok(count),
            Ok(Err(message)) => Err(StoreError::WriteFailed(message)),
            Err(_) => Err(StoreError::WriterGone),
        }
    }
}

#[cfg(test)]
mod tests;
