//! The durable visit counter: one writer per data directory, atomic file replacement,
//! and group commit.
//!
//! A visit is acknowledged only once a count that includes it is on disk. Each commit
//! writes `visits.tmp`, fsyncs it, renames it over `visits` and fsyncs the directory,
//! so after a crash at any moment `visits` holds either the old or the new complete
//! count. That costs about half a millisecond, so a dedicated flusher thread commits
//! in batches: every visit that arrives while a commit is running joins the next one,
//! and only the visits a commit covers are woken when it completes.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// File that holds the count, as a decimal integer and a newline.
pub const VISITS_FILE: &str = "visits";
/// Temporary file of the atomic replacement; only the lock holder ever writes it.
pub const TEMP_FILE: &str = "visits.tmp";
/// File held with an exclusive `flock` by the process that owns the directory.
pub const LOCK_FILE: &str = ".lock";

/// How long the flusher waits before retrying a failed write when no new visit
/// arrives to trigger one: readiness recovers on its own once the disk does.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// The longest prefix of a corrupt file quoted back in the error.
const CORRUPT_QUOTE_LIMIT: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot write to the data directory {dir}: {source}. Mount it read-write and make it \
         writable by the user the service runs as (in Kubernetes: fsGroup), or set DATA_DIR to \
         a writable directory"
    )]
    NotWritable { dir: PathBuf, source: io::Error },

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

    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("the visit was not saved because writing the count failed: {0}")]
    WriteFailed(Arc<str>),

    #[error("the visit was not saved because the service is shutting down")]
    Closed,

    #[error("the visit store's writer thread stopped unexpectedly")]
    WriterGone,
}

/// Told about every commit the flusher attempts, so metrics can live elsewhere.
pub trait CommitObserver: Send + Sync + 'static {
    fn on_commit(&self, elapsed: Duration, batch_size: usize, ok: bool);
}

/// An observer that ignores commits, for callers that need no metrics.
pub struct NoopObserver;

impl CommitObserver for NoopObserver {
    fn on_commit(&self, _elapsed: Duration, _batch_size: usize, _ok: bool) {}
}

/// A handle to the counter of one data directory. Clones share the same counter.
#[derive(Clone)]
pub struct VisitStore {
    handle: Arc<Handle>,
}

impl fmt::Debug for VisitStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VisitStore")
            .field("data_file", &self.handle.shared.files.visits)
            .field("current", &self.current())
            .field("durable", &self.durable())
            .finish()
    }
}

/// Closes the store when the last clone goes away, so the flusher thread ends and the
/// directory lock is released even if nobody called `close`.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.request_close(None);
    }
}

struct Paths {
    dir: PathBuf,
    visits: PathBuf,
    temp: PathBuf,
}

type Ack = oneshot::Sender<Result<u64, StoreError>>;

struct Shared {
    files: Paths,
    state: Mutex<State>,
    wake_flusher: Condvar,
    durable: AtomicU64,
    healthy: AtomicBool,
}

struct State {
    /// Every visit ever attempted, durable or not: the count never goes backwards.
    count: u64,
    /// Visits waiting for a commit that covers them, with the number each one got.
    pending: Vec<(u64, Ack)>,
    flusher_idle: bool,
    closing: bool,
    close_waiters: Vec<oneshot::Sender<Result<u64, Arc<str>>>>,
    closed: bool,
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated (every
        // critical section is a few plain assignments), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn request_close(&self, done: Option<oneshot::Sender<Result<u64, Arc<str>>>>) {
        let mut state = self.lock_state();
        if state.closed {
            if let Some(done) = done {
                let _ = done.send(Ok(self.durable.load(Ordering::Acquire)));
            }
            return;
        }
        state.closing = true;
        if let Some(done) = done {
            state.close_waiters.push(done);
        }
        drop(state);
        self.wake_flusher.notify_one();
    }
}

impl VisitStore {
    /// Takes ownership of `data_dir` (creating it if needed): locks it, loads the count
    /// and proves the directory writable by committing the loaded count, then starts the
    /// flusher.
    pub fn open(data_dir: &Path, observer: Arc<dyn CommitObserver>) -> Result<Self, StoreError> {
        let files = Paths {
            dir: data_dir.to_path_buf(),
            visits: data_dir.join(VISITS_FILE),
            temp: data_dir.join(TEMP_FILE),
        };
        fs::create_dir_all(&files.dir).map_err(|source| StoreError::NotWritable {
            dir: files.dir.clone(),
            source,
        })?;
        let lock = acquire_lock(&files.dir)?;
        let count = load_count(&files.visits)?;
        // A leftover temp file is the trace of a crash mid-commit; `visits` is intact.
        match fs::remove_file(&files.temp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::NotWritable {
                    dir: files.dir.clone(),
                    source,
                });
            }
        }
        write_count_atomically(&files, count).map_err(|e| match e {
            StoreError::Io { source, .. } => StoreError::NotWritable {
                dir: files.dir.clone(),
                source,
            },
            other => other,
        })?;

        let shared = Arc::new(Shared {
            files,
            state: Mutex::new(State {
                count,
                pending: Vec::new(),
                flusher_idle: false,
                closing: false,
                close_waiters: Vec::new(),
                closed: false,
            }),
            wake_flusher: Condvar::new(),
            durable: AtomicU64::new(count),
            healthy: AtomicBool::new(true),
        });
        let flusher_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("visits-flusher".into())
            .spawn(move || run_flusher(&flusher_shared, observer, lock))
            .map_err(|source| StoreError::Io {
                action: "start the writer thread for",
                path: shared.files.dir.clone(),
                source,
            })?;
        tracing::info!(file = %shared.files.visits.display(), visits = count, "visit count loaded");
        Ok(Self {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// Counts one visit and resolves once a count that includes it is durable on disk,
    /// with the number this visit got.
    pub async fn record_visit(&self) -> Result<u64, StoreError> {
        let shared = &self.handle.shared;
        let (ack, acked) = oneshot::channel();
        let wake = {
            let mut state = shared.lock_state();
            if state.closing || state.closed {
                return Err(StoreError::Closed);
            }
            state.count += 1;
            let number = state.count;
            state.pending.push((number, ack));
            std::mem::replace(&mut state.flusher_idle, false)
        };
        if wake {
            shared.wake_flusher.notify_one();
        }
        acked.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Every visit counted so far, including those whose commit is still running or failed.
    pub fn current(&self) -> u64 {
        self.handle.shared.lock_state().count
    }

    /// The count last known to be on disk.
    pub fn durable(&self) -> u64 {
        self.handle.shared.durable.load(Ordering::Acquire)
    }

    /// False from a failed write until a later write succeeds.
    pub fn is_healthy(&self) -> bool {
        self.handle.shared.healthy.load(Ordering::Acquire)
    }

    pub fn data_file(&self) -> &Path {
        &self.handle.shared.files.visits
    }

    /// Writes the final count, stops the flusher and releases the directory lock. Visits
    /// already waiting are committed first; visits after this return `Closed`.
    pub async fn close(&self) -> Result<u64, StoreError> {
        let (done, closed) = oneshot::channel();
        self.handle.shared.request_close(Some(done));
        match closed.await {
            Ok(Ok(count)) => Ok(count),
            Ok(Err(message)) => Err(StoreError::WriteFailed(message)),
            Err(_) => Err(StoreError::WriterGone),
        }
    }
}

fn acquire_lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let mut lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| StoreError::NotWritable {
            dir: dir.to_path_buf(),
            source,
        })?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "holder unknown".to_string(),
                pid => format!("pid {pid}"),
            };
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(TryLockError::Error(source)) => {
            return Err(StoreError::Io {
                action: "lock",
                path,
                source,
            });
        }
    }
    // The pid is only a hint for the error message of a second process.
    let record_pid = lock
        .set_len(0)
        .and_then(|()| writeln!(lock, "{}", std::process::id()));
    if let Err(source) = record_pid {
        return Err(StoreError::NotWritable {
            dir: dir.to_path_buf(),
            source,
        });
    }
    Ok(lock)
}

fn load_count(path: &Path) -> Result<u64, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(StoreError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse_count(&bytes).ok_or_else(|| StoreError::Corrupt {
        path: path.to_path_buf(),
        found: describe_contents(&bytes),
    })
}

/// Accepts exactly what we write, digits and a newline, and tolerates a missing newline
/// (a hand-edited file). Anything else is not ours to interpret.
pub fn parse_count(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn describe_contents(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "an empty file".to_string();
    }
    let shown = &bytes[..bytes.len().min(CORRUPT_QUOTE_LIMIT)];
    let quoted = String::from_utf8_lossy(shown).escape_debug().to_string();
    if bytes.len() > CORRUPT_QUOTE_LIMIT {
        format!("\"{quoted}\"... ({} bytes)", bytes.len())
    } else {
        format!("\"{quoted}\"")
    }
}

/// Replaces `visits` so that a crash at any point leaves either the old or the new count.
fn write_count_atomically(files: &Paths, count: u64) -> Result<(), StoreError> {
    let io_error = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    let mut temp = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&files.temp)
        .map_err(io_error("create", &files.temp))?;
    temp.write_all(format!("{count}\n").as_bytes())
        .map_err(io_error("write", &files.temp))?;
    temp.sync_all().map_err(io_error("fsync", &files.temp))?;
    drop(temp);
    fs::rename(&files.temp, &files.visits).map_err(io_error("rename over", &files.visits))?;
    File::open(&files.dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("fsync the directory", &files.dir))
}

fn run_flusher(shared: &Shared, observer: Arc<dyn CommitObserver>, lock: File) {
    let mut state = shared.lock_state();
    loop {
        let behind = state.count > shared.durable.load(Ordering::Acquire);
        let retry_due = behind && !shared.healthy.load(Ordering::Acquire);
        if state.pending.is_empty() && !state.closing && !retry_due {
            state.flusher_idle = true;
            state = shared
                .wake_flusher
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            continue;
        }
        if retry_due && state.pending.is_empty() && !state.closing {
            state.flusher_idle = true;
            let (guard, _) = shared
                .wake_flusher
                .wait_timeout(state, RETRY_INTERVAL)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state = guard;
            // Retry whether the timer ran out or a visit arrived.
        }
        state.flusher_idle = false;
        let target = state.count;
        let batch = std::mem::take(&mut state.pending);
        let closing = state.closing;
        drop(state);

        let outcome = commit(shared, &*observer, target, batch.len());
        for (number, ack) in batch {
            let reply = match &outcome {
                Ok(()) => Ok(number),
                Err(message) => Err(StoreError::WriteFailed(Arc::clone(message))),
            };
            // The visitor may have gone away (client disconnected); that is fine.
            let _ = ack.send(reply);
        }

        state = shared.lock_state();
        if closing && state.pending.is_empty() {
            state.closed = true;
            let waiters = std::mem::take(&mut state.close_waiters);
            drop(state);
            // Release the directory before anyone learns the store is closed, so a
            // successor process or test can take it over at once.
            drop(lock);
            let reply = outcome.map(|()| shared.durable.load(Ordering::Acquire));
            for waiter in waiters {
                let _ = waiter.send(reply.clone());
            }
            return;
        }
    }
}

/// Commits `target` unless it is already durable, updating health and the observer.
fn commit(
    shared: &Shared,
    observer: &dyn CommitObserver,
    target: u64,
    batch_size: usize,
) -> Result<(), Arc<str>> {
    if target <= shared.durable.load(Ordering::Acquire) {
        return Ok(());
    }
    let started = Instant::now();
    let result = write_count_atomically(&shared.files, target);
    observer.on_commit(started.elapsed(), batch_size, result.is_ok());
    match result {
        Ok(()) => {
            shared.durable.store(target, Ordering::Release);
            if !shared.healthy.swap(true, Ordering::AcqRel) {
                tracing::info!(visits = target, "writing the visit count works again");
            }
            Ok(())
        }
        Err(error) => {
            if shared.healthy.swap(false, Ordering::AcqRel) {
                tracing::error!(%error, "writing the visit count failed; visits get 503 and readiness fails until a write succeeds");
            }
            Err(Arc::from(error.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> VisitStore {
        VisitStore::open(dir, Arc::new(NoopObserver)).expect("open store")
    }

    #[test]
    fn parse_count_accepts_only_a_decimal_integer() {
        assert_eq!(parse_count(b"42\n"), Some(42));
        assert_eq!(parse_count(b"42"), Some(42));
        assert_eq!(parse_count(b"0\n"), Some(0));
        for bad in [
            &b""[..],
            b"\n",
            b"-1\n",
            b"4 2\n",
            b"42\n\n",
            b" 42\n",
            b"abc",
            b"99999999999999999999999\n",
        ] {
            assert_eq!(parse_count(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn missing_file_means_zero_and_visits_are_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        assert_eq!(store.current(), 0);
        assert_eq!(
            fs::read_to_string(dir.path().join(VISITS_FILE)).unwrap(),
            "0\n"
        );
        assert_eq!(store.record_visit().await.unwrap(), 1);
        assert_eq!(store.record_visit().await.unwrap(), 2);
        assert_eq!(
            fs::read_to_string(dir.path().join(VISITS_FILE)).unwrap(),
            "2\n"
        );
        assert_eq!(store.durable(), 2);
        assert_eq!(store.close().await.unwrap(), 2);
        assert!(matches!(
            store.record_visit().await,
            Err(StoreError::Closed)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_visits_are_counted_exactly_and_numbered_uniquely() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut numbers = Vec::new();
                    for _ in 0..100 {
                        numbers.push(store.record_visit().await.unwrap());
                    }
                    numbers
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (1..=6400).collect::<Vec<u64>>());
        assert_eq!(
            fs::read_to_string(dir.path().join(VISITS_FILE)).unwrap(),
            "6400\n"
        );
    }

    #[tokio::test]
    async fn the_count_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        for _ in 0..5 {
            store.record_visit().await.unwrap();
        }
        store.close().await.unwrap();
        drop(store);
        let reopened = open(dir.path());
        assert_eq!(reopened.current(), 5);
        assert_eq!(reopened.record_visit().await.unwrap(), 6);
    }

    #[tokio::test]
    async fn a_second_store_on_the_same_directory_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = open(dir.path());
        let err = VisitStore::open(dir.path(), Arc::new(NoopObserver)).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        first.close().await.unwrap();
        let second = open(dir.path());
        assert_eq!(second.current(), 0);
    }

    #[test]
    fn a_corrupt_file_stops_the_store_and_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(VISITS_FILE);
        fs::write(&file, "twelve\n").unwrap();
        let err = VisitStore::open(dir.path(), Arc::new(NoopObserver)).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("twelve"), "{message}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "twelve\n");
    }

    #[test]
    fn a_leftover_temp_file_is_discarded() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(VISITS_FILE), "7\n").unwrap();
        fs::write(dir.path().join(TEMP_FILE), "garbage").unwrap();
        let store = open(dir.path());
        assert_eq!(store.current(), 7);
        assert!(!dir.path().join(TEMP_FILE).exists());
    }

    #[tokio::test]
    async fn dropping_every_handle_releases_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        store.record_visit().await.unwrap();
        drop(store);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match VisitStore::open(dir.path(), Arc::new(NoopObserver)) {
                Ok(store) => {
                    assert_eq!(store.current(), 1);
                    break;
                }
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}
