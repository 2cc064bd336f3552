//! The durable visit counter: one writer process per data directory, atomic file
//! replacement, and overlapping group commits.
//!
//! A visit is acknowledged only once a count that includes it is on disk. A commit
//! writes a temp file, fsyncs it, renames it over `visits` and fsyncs the directory,
//! so after a crash at any moment `visits` holds a complete count. A commit costs from
//! half a millisecond to several on a busy disk, so visits are committed in batches:
//! a writer thread takes every visit waiting, commits the newest count once and wakes
//! exactly the visits it covers. Several writer threads take turns, so while one waits
//! for its fsync the next batch is already being written: a visit waits for about one
//! commit, not for the end of a running one plus its own. Renames are serialized and
//! only ever move `visits` forward, so overlapping commits never make the count go back.

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
/// Prefix of the temp files of the atomic replacement (`visits.tmp.<writer>`); only the
/// lock holder ever writes them, and it removes leftovers of a crash at startup.
pub const TEMP_PREFIX: &str = "visits.tmp";
/// File held with an exclusive `flock` by the process that owns the directory.
pub const LOCK_FILE: &str = ".lock";

/// Writer threads, so several commits can be in flight when the disk is slow.
const WRITERS: usize = 4;

/// A second commit starts only once the newest one in flight has run this long. On a
/// quick disk (a commit in about a millisecond) the running writer comes back for the
/// waiting visits sooner than a second commit would finish, and one large batch costs
/// less CPU than several small ones; on a slow or busy disk (several milliseconds per
/// commit) overlapping commits cut the wait. Measured on this project's machine: one
/// writer gave the best ratio on a quiet disk and the worst on a busy one.
const OVERLAP_AFTER: Duration = Duration::from_millis(2);

/// The writers only write files and format one integer.
const WRITER_STACK_BYTES: usize = 64 * 1024;

/// How long a writer waits before retrying a failed write when no new visit arrives
/// to trigger one: readiness recovers on its own once the disk does.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// The longest prefix of a corrupt file quoted back in the error.
const CORRUPT_QUOTE_LIMIT: usize = 64;

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

    #[error("the visit was not saved because the service is shutting down")]
    Closed,

    #[error("the visit store's writer threads stopped unexpectedly")]
    WriterGone,
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

/// Closes the store when the last clone goes away, so the writer threads end and the
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
}

impl Paths {
    fn temp(&self, writer: usize) -> PathBuf {
        self.dir.join(format!("{TEMP_PREFIX}.{writer}"))
    }
}

type Ack = oneshot::Sender<Result<u64, StoreError>>;
type CloseAck = oneshot::Sender<Result<u64, Arc<str>>>;

struct Shared {
    files: Paths,
    state: Mutex<State>,
    wake_writer: Condvar,
    /// Serializes renames; holds the highest count renamed into place so far.
    renamed: Mutex<Option<u64>>,
    durable: AtomicU64,
    healthy: AtomicBool,
    /// Released by the last writer to stop.
    lock: Mutex<Option<File>>,
}

struct State {
    /// Every visit ever attempted, durable or not: the count never goes backwards.
    count: u64,
    /// Visits waiting for a commit that covers them, with the number each one got.
    pending: Vec<(u64, Ack)>,
    /// Writers waiting for visits, which `record_visit` must wake. Writers held back by
    /// `OVERLAP_AFTER` are not counted: they wake by themselves.
    idle_writers: usize,
    running_writers: usize,
    commits_in_flight: usize,
    newest_commit_started: Option<Instant>,
    closing: bool,
    close_waiters: Vec<CloseAck>,
    /// The outcome of the last commit, reported to `close`.
    last_error: Option<Arc<str>>,
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

    fn request_close(&self, done: Option<CloseAck>) {
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
        self.wake_writer.notify_all();
    }
}

impl VisitStore {
    /// Takes ownership of `data_dir` (creating it if needed): locks it, loads the count
    /// and proves the directory writable by committing the loaded count, then starts the
    /// writers.
    pub fn open(data_dir: &Path, observer: Arc<dyn CommitObserver>) -> Result<Self, StoreError> {
        let files = Paths {
            dir: data_dir.to_path_buf(),
            visits: data_dir.join(VISITS_FILE),
        };
        let not_writable = |cause| StoreError::NotWritable {
            dir: files.dir.clone(),
            cause,
        };
        fs::create_dir_all(&files.dir).map_err(not_writable)?;
        let lock = acquire_lock(&files.dir)?;
        let count = load_count(&files.visits)?;
        remove_leftover_temp_files(&files.dir).map_err(not_writable)?;
        let renamed = Mutex::new(None);
        commit_count(&files, &files.temp(0), &renamed, count).map_err(|e| match e {
            StoreError::Io { cause, .. } => not_writable(cause),
            other => other,
        })?;

        let shared = Arc::new(Shared {
            files,
            state: Mutex::new(State {
                count,
                pending: Vec::new(),
                idle_writers: 0,
                running_writers: WRITERS,
                commits_in_flight: 0,
                newest_commit_started: None,
                closing: false,
                close_waiters: Vec::new(),
                last_error: None,
                closed: false,
            }),
            wake_writer: Condvar::new(),
            renamed,
            durable: AtomicU64::new(count),
            healthy: AtomicBool::new(true),
            lock: Mutex::new(Some(lock)),
        });
        for writer in 0..WRITERS {
            let (writer_shared, observer) = (Arc::clone(&shared), Arc::clone(&observer));
            let spawned = thread::Builder::new()
                .name(format!("visits-writer-{writer}"))
                .stack_size(WRITER_STACK_BYTES)
                .spawn(move || run_writer(&writer_shared, &*observer, writer));
            if let Err(cause) = spawned {
                // The writers already running stop once the store is closed.
                shared.request_close(None);
                return Err(StoreError::Io {
                    action: "start a writer thread for",
                    path: shared.files.dir.clone(),
                    cause,
                });
            }
        }
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
            // Waking a writer costs a syscall; a busy writer takes the visit anyway
            // when it comes back for the next batch.
            state.idle_writers > 0
        };
        if wake {
            shared.wake_writer.notify_one();
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

    /// Writes the final count, stops the writers and releases the directory lock. Visits
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
        .map_err(|cause| StoreError::NotWritable {
            dir: dir.to_path_buf(),
            cause,
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
        Err(TryLockError::Error(cause)) => {
            return Err(StoreError::Io {
                action: "lock",
                path,
                cause,
            });
        }
    }
    // The pid is only a hint for the error message of a second process.
    let record_pid = lock
        .set_len(0)
        .and_then(|()| writeln!(lock, "{}", std::process::id()));
    if let Err(cause) = record_pid {
        return Err(StoreError::NotWritable {
            dir: dir.to_path_buf(),
            cause,
        });
    }
    Ok(lock)
}

fn load_count(path: &Path) -> Result<u64, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(cause) => {
            return Err(StoreError::Io {
                action: "read",
                path: path.to_path_buf(),
                cause,
            });
        }
    };
    parse_count(&bytes).ok_or_else(|| StoreError::Corrupt {
        path: path.to_path_buf(),
        found: describe_contents(&bytes),
    })
}

/// A temp file is the trace of a crash mid-commit (or of a hand restore that stopped
/// half-way); `visits` itself is intact either way.
fn remove_leftover_temp_files(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(TEMP_PREFIX))
        {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
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

/// Makes `count` (or a larger count committed meanwhile) durable in `visits`, so that a
/// crash at any point leaves a complete count that never went backwards.
///
/// Steps that wait on the disk (writing and fsyncing the temp file, fsyncing the
/// directory) run concurrently across writers; only the rename is serialized. A count
/// that another writer has overtaken is not renamed into place: its temp file is
/// dropped, and the directory fsync that follows makes the larger count durable, which
/// covers this one too.
fn commit_count(
    files: &Paths,
    temp_path: &Path,
    renamed: &Mutex<Option<u64>>,
    count: u64,
) -> Result<(), StoreError> {
    let io_error = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |cause| StoreError::Io {
            action,
            path,
            cause,
        }
    };
    let mut temp = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp_path)
        .map_err(io_error("create", temp_path))?;
    temp.write_all(format!("{count}\n").as_bytes())
        .map_err(io_error("write", temp_path))?;
    temp.sync_all().map_err(io_error("fsync", temp_path))?;
    drop(temp);
    {
        let mut highest = renamed.lock().unwrap_or_else(|p| p.into_inner());
        if highest.is_none_or(|highest| count > highest) {
            fs::rename(temp_path, &files.visits).map_err(io_error("rename over", &files.visits))?;
            *highest = Some(count);
        } else {
            fs::remove_file(temp_path).map_err(io_error("remove", temp_path))?;
        }
    }
    File::open(&files.dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("fsync the directory", &files.dir))
}

fn run_writer(shared: &Shared, observer: &dyn CommitObserver, writer: usize) {
    let temp_path = shared.files.temp(writer);
    let mut state = shared.lock_state();
    loop {
        let behind = state.count > shared.durable.load(Ordering::Acquire);
        let retry_due = behind && !shared.healthy.load(Ordering::Acquire);
        if state.closing && state.pending.is_empty() {
            break;
        }
        if state.pending.is_empty() {
            state.idle_writers += 1;
            state = if retry_due {
                shared
                    .wake_writer
                    .wait_timeout(state, RETRY_INTERVAL)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|poisoned| poisoned.into_inner().0)
            } else {
                shared
                    .wake_writer
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            };
            state.idle_writers -= 1;
            // Nothing new: stop if closing, or, if a failed write is due for a retry,
            // fall through and retry it.
            if state.pending.is_empty() && (state.closing || !retry_due) {
                continue;
            }
        }
        if let Some(started) = state.newest_commit_started {
            let age = started.elapsed();
            if age < OVERLAP_AFTER && !state.closing {
                state = shared
                    .wake_writer
                    .wait_timeout(state, OVERLAP_AFTER - age)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|poisoned| poisoned.into_inner().0);
                continue;
            }
        }
        let target = state.count;
        let batch = std::mem::take(&mut state.pending);
        state.commits_in_flight += 1;
        state.newest_commit_started = Some(Instant::now());
        drop(state);

        let outcome = commit(shared, observer, &temp_path, target, batch.len());
        for (number, ack) in batch {
            let reply = match &outcome {
                Ok(()) => Ok(number),
                Err(message) => Err(StoreError::WriteFailed(Arc::clone(message))),
            };
            // The visitor may have gone away (client disconnected); that is fine.
            let _ = ack.send(reply);
        }
        state = shared.lock_state();
        state.last_error = outcome.err();
        state.commits_in_flight -= 1;
        if state.commits_in_flight == 0 {
            state.newest_commit_started = None;
        }
    }

    state.running_writers -= 1;
    if state.running_writers > 0 {
        return;
    }
    // The last writer out: every visit is answered and the final count is written.
    state.closed = true;
    let waiters = std::mem::take(&mut state.close_waiters);
    let reply = match state.last_error.take() {
        Some(message) => Err(message),
        None => Ok(shared.durable.load(Ordering::Acquire)),
    };
    drop(state);
    // Release the directory before anyone learns the store is closed, so a successor
    // process or test can take it over at once.
    drop(
        shared
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take(),
    );
    for waiter in waiters {
        let _ = waiter.send(reply.clone());
    }
}

/// Commits `target` unless it is already durable, updating health and the observer.
fn commit(
    shared: &Shared,
    observer: &dyn CommitObserver,
    temp_path: &Path,
    target: u64,
    batch_size: usize,
) -> Result<(), Arc<str>> {
    if target <= shared.durable.load(Ordering::Acquire) {
        return Ok(());
    }
    let started = Instant::now();
    let result = commit_count(&shared.files, temp_path, &shared.renamed, target);
    observer.on_commit(started.elapsed(), batch_size, result.is_ok());
    match result {
        Ok(()) => {
            shared.durable.fetch_max(target, Ordering::AcqRel);
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_commits_never_move_the_file_backwards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        let file = dir.path().join(VISITS_FILE);
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (file, done) = (file.clone(), done.clone());
            thread::spawn(move || {
                let (mut last, mut reads) = (0, 0u64);
                while !done.load(Ordering::Acquire) {
                    let bytes = fs::read(&file).expect("visits is always there");
                    let value = parse_count(&bytes).expect("visits always parses");
                    assert!(value >= last, "visits went back from {last} to {value}");
                    last = value;
                    reads += 1;
                }
                reads
            })
        };
        let tasks: Vec<_> = (0..128)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    for _ in 0..40 {
                        store.record_visit().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        done.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0);
        assert_eq!(store.durable(), 5120);
        assert_eq!(fs::read_to_string(&file).unwrap(), "5120\n");
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
        fs::write(dir.path().join("visits.tmp"), "garbage").unwrap();
        fs::write(dir.path().join("visits.tmp.2"), "garbage").unwrap();
        let store = open(dir.path());
        assert_eq!(store.current(), 7);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".lock", "visits"]);
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
