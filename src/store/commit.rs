//! Group commit: visits queue with a reply channel; writer threads take every waiting visit,
//! have the newest count committed once (by `file`) and answer exactly the visits it covers.
//!
//! Several writers take turns, so while one waits for its fsync the next batch is already
//! being written. Overlapping commits may finish out of order. Their outcome is judged by
//! what is durable, not by which commit finished last:
//! - a visit is acknowledged once the durable count covers it, whichever commit made it so;
//!   a failed commit whose count a newer commit already made durable is superseded: its
//!   visits are acknowledged and it changes nothing else;
//! - health (readiness) is the outcome of the newest commit that finished: an older commit
//!   finishing later never overrides it;
//! - `close` succeeds exactly when every counted visit is durable.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::file::CountFile;
use super::{CommitObserver, StoreError};

/// Writer threads, so several commits can be in flight when the disk is slow.
pub const WRITERS: usize = 4;

/// A second commit starts only once the newest one in flight has run this long. On a
/// quick disk (a commit in about a millisecond) the running writer comes back for the
/// waiting visits sooner than a second commit would finish, and one large batch costs
/// less CPU than several small ones; on a slow or busy disk (several milliseconds per
/// commit) overlapping commits cut the wait. Measured on this project's machine: one
/// writer gave the best ratio on a quiet disk and the worst on a busy one.
const OVERLAP_AFTER: Duration = Duration::from_millis(2);

/// The largest emptied batch a writer keeps for reuse as the queue (64 KiB).
const SPARE_CAPACITY_MAX: usize = 4096;

/// How long an idle writer waits before retrying a failed write when no new visit arrives
/// to trigger one: readiness recovers on its own once the disk does.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);

type Ack = oneshot::Sender<Result<u64, StoreError>>;
pub type CloseAck = oneshot::Sender<Result<u64, Arc<str>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// No new visits; writers commit what is pending, then stop.
    Closing,
    /// Every writer has stopped and the directory is released.
    Closed,
}

struct State {
    /// Every visit ever attempted, durable or not: the count never goes backwards.
    count: u64,
    /// Visits waiting for a commit that covers them, with the number each one got.
    pending: Vec<(u64, Ack)>,
    phase: Phase,
    /// Writers waiting for visits, which `record` must wake. Writers held back by
    /// `OVERLAP_AFTER` are not counted: they wake by themselves.
    idle_writers: usize,
    running_writers: usize,
    commits_in_flight: usize,
    newest_commit_started: Option<Instant>,
    /// The target of the newest commit that finished; its outcome is the store's health.
    newest_finished: u64,
    /// Why the newest finished commit failed, while it is not made good.
    failure: Option<Arc<str>>,
    close_waiters: Vec<CloseAck>,
}

/// The scheduler shared by the store's handles and its writer threads.
pub struct GroupCommit {
    file: CountFile,
    observer: Arc<dyn CommitObserver>,
    state: Mutex<State>,
    wake_writer: Condvar,
    durable: AtomicU64,
    healthy: AtomicBool,
}

impl GroupCommit {
    /// The scheduler of `file`, whose durable count is `count`. Start its writers with
    /// `run_writer`.
    pub fn new(file: CountFile, count: u64, observer: Arc<dyn CommitObserver>) -> GroupCommit {
        GroupCommit {
            file,
            observer,
            state: Mutex::new(State {
                count,
                pending: Vec::new(),
                phase: Phase::Open,
                idle_writers: 0,
                running_writers: WRITERS,
                commits_in_flight: 0,
                newest_commit_started: None,
                newest_finished: count,
                failure: None,
                close_waiters: Vec::new(),
            }),
            wake_writer: Condvar::new(),
            durable: AtomicU64::new(count),
            healthy: AtomicBool::new(true),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated (every
        // critical section is a few plain assignments), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(
        &'a self,
        state: MutexGuard<'a, State>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        match timeout {
            Some(timeout) => self
                .wake_writer
                .wait_timeout(state, timeout)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0),
            None => self
                .wake_writer
                .wait(state)
                .unwrap_or_else(|p| p.into_inner()),
        }
    }

    pub fn file(&self) -> &CountFile {
        &self.file
    }

    pub fn current(&self) -> u64 {
        self.lock_state().count
    }

    pub fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Counts one visit and returns the receiver of its acknowledgement.
    pub fn record(&self) -> Result<oneshot::Receiver<Result<u64, StoreError>>, StoreError> {
        let (ack, acked) = oneshot::channel();
        let wake = {
            let mut state = self.lock_state();
            if state.phase != Phase::Open {
                return Err(StoreError::Closed);
            }
            let number = state
                .count
                .checked_add(1)
                .ok_or(StoreError::CountExhausted { count: state.count })?;
            state.count = number;
            state.pending.push((number, ack));
            // Waking a writer costs a syscall; a busy writer takes the visit anyway
            // when it comes back for the next batch.
            state.idle_writers > 0
        };
        if wake {
            self.wake_writer.notify_one();
        }
        Ok(acked)
    }

    /// Asks the writers to commit what is pending and stop; `done` (if any) gets the final
    /// durable count, or the failure that left visits not durable.
    pub fn request_close(&self, done: Option<CloseAck>) {
        let mut state = self.lock_state();
        if state.phase == Phase::Closed {
            if let Some(done) = done {
                let _ = done.send(self.close_outcome(&state));
            }
            return;
        }
        state.phase = Phase::Closing;
        state.close_waiters.extend(done);
        drop(state);
        self.wake_writer.notify_all();
    }

    fn close_outcome(&self, state: &State) -> Result<u64, Arc<str>> {
        let durable = self.durable();
        match (&state.failure, durable >= state.count) {
            (Some(message), false) => Err(Arc::clone(message)),
            _ => Ok(durable),
        }
    }

    /// One writer thread's loop: take the waiting visits, commit, answer; until closed.
    pub fn run_writer(&self, writer: usize) {
        let temp = self.file.temp(writer);
        // The emptied vector of the last batch, handed back as the queue, so that visits queue
        // into room that is already there instead of a vector grown from empty per commit.
        let mut spare = Vec::new();
        let mut state = self.lock_state();
        loop {
            if state.phase != Phase::Open && state.pending.is_empty() {
                break;
            }
            if state.pending.is_empty() {
                let retry_due = !self.is_healthy() && state.count > self.durable();
                state.idle_writers += 1;
                state = self.wait(state, retry_due.then_some(RETRY_INTERVAL));
                state.idle_writers -= 1;
                // Nothing new: stop if closing, or, if a failed write is due for a retry,
                // fall through and retry it.
                if state.pending.is_empty() && (state.phase != Phase::Open || !retry_due) {
                    continue;
                }
            }
            if let Some(started) = state.newest_commit_started {
                let age = started.elapsed();
                if age < OVERLAP_AFTER && state.phase == Phase::Open {
                    state = self.wait(state, Some(OVERLAP_AFTER - age));
                    continue;
                }
            }
            let target = state.count;
            let mut batch = std::mem::replace(&mut state.pending, std::mem::take(&mut spare));
            state.commits_in_flight += 1;
            state.newest_commit_started = Some(Instant::now());
            drop(state);

            let outcome = self.commit(&temp, target, batch.len());
            state = self.lock_state();
            let reply = self.settle(&mut state, target, outcome);
            state.commits_in_flight -= 1;
            if state.commits_in_flight == 0 {
                state.newest_commit_started = None;
            }
            drop(state);
            for (number, ack) in batch.drain(..) {
                // The visitor may have gone away (client disconnected); that is fine.
                let _ = ack.send(match &reply {
                    Ok(()) => Ok(number),
                    Err(message) => Err(StoreError::WriteFailed(Arc::clone(message))),
                });
            }
            // A burst's vector is let go rather than kept for good.
            if batch.capacity() <= SPARE_CAPACITY_MAX {
                spare = batch;
            }
            state = self.lock_state();
        }
        self.writer_stopped(state);
    }

    /// Commits `target` unless it is already durable.
    fn commit(
        &self,
        temp: &std::path::Path,
        target: u64,
        batch_size: usize,
    ) -> Result<(), StoreError> {
        if target <= self.durable() {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.file.commit(temp, target);
        self.observer
            .on_commit(started.elapsed(), batch_size, result.is_ok());
        if result.is_ok() {
            self.durable.fetch_max(target, Ordering::AcqRel);
        }
        result
    }

    /// Applies the rules in the module docs to a finished commit of `target`; returns what its
    /// visits are answered.
    fn settle(
        &self,
        state: &mut State,
        target: u64,
        outcome: Result<(), StoreError>,
    ) -> Result<(), Arc<str>> {
        let superseded = outcome.is_err() && self.durable() >= target;
        let newest = target >= state.newest_finished;
        if newest {
            state.newest_finished = target;
        }
        match outcome {
            Ok(()) if newest => {
                state.failure = None;
                if !self.healthy.swap(true, Ordering::AcqRel) {
                    tracing::info!(visits = target, "writing the visit count works again");
                }
                Ok(())
            }
            Ok(()) => Ok(()),
            Err(_) if superseded => Ok(()),
            Err(error) => {
                let message: Arc<str> = Arc::from(error.to_string());
                if newest {
                    state.failure = Some(Arc::clone(&message));
                    if self.healthy.swap(false, Ordering::AcqRel) {
                        tracing::error!(%error, "writing the visit count failed; visits get 503 and readiness fails until a write succeeds");
                    }
                }
                Err(message)
            }
        }
    }

    fn writer_stopped(&self, mut state: MutexGuard<'_, State>) {
        state.running_writers -= 1;
        if state.running_writers > 0 {
            return;
        }
        // The last writer out: every visit is answered and the final count is written.
        state.phase = Phase::Closed;
        let waiters = std::mem::take(&mut state.close_waiters);
        let reply = self.close_outcome(&state);
        drop(state);
        // Release the directory before anyone learns the store is closed, so a successor
        // process or test can take it over at once.
        self.file.release();
        for waiter in waiters {
            let _ = waiter.send(reply.clone());
        }
    }
}
