//! The log writer: request paths append formatted lines to a shared buffer, and one logging
//! thread writes whatever the buffer holds to stdout in one `write`.
//!
//! Why not a channel of lines (tracing-appender's `NonBlocking`): each line there is its own
//! allocation and message, and the logging thread, draining faster than lines arrive, is woken
//! for nearly every line; under load those wakeups cost more than writing the log.
//!
//! Here the thread writes at once while it has written fewer than `BURST` times in the last
//! `GATHER`; after that, it lets lines gather until the oldest of those writes is `GATHER` old.
//! So a quiet service's lines (and a startup's few) go out at once, no line waits more than
//! `GATHER`, and a busy service's thread writes at most `BURST / GATHER` times a second. While
//! lines gather, loggers do not wake the thread. (The first version gathered only when lines
//! had arrived during a write; a fast stdout, such as a file, left that rarely true, and the
//! thread was woken about 13,000 times a second at 45,000 lines a second with stdout on
//! `/dev/null`.)
//!
//! Nothing is dropped: when `capacity` bytes are waiting (the sink is slower than the
//! service), loggers wait for the thread to take them, which also bounds the memory. Dropping
//! the guard writes every waiting line, then stops the thread.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// How long the logging thread lets lines gather while the service is busy: how late a line
/// may reach stdout under load.
pub const GATHER: Duration = Duration::from_millis(5);

/// Writes made at once within any `GATHER`: enough for a startup's lines and a quiet service's
/// requests; a busy service's lines gather instead.
pub const BURST: usize = 4;

/// What the buffers start with; they grow up to the capacity only when a burst needs it.
const INITIAL_BYTES: usize = 64 * 1024;

struct Pending {
    bytes: Vec<u8>,
    closing: bool,
    /// The logging thread waits for lines and must be woken by the next one. While it lets
    /// lines gather, it is not woken: that is what saves the wakeups.
    thread_waits_for_lines: bool,
    /// A logger waits for room: the thread writes now instead of gathering.
    logger_waits_for_room: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the logging thread: lines arrived, or closing.
    lines_waiting: Condvar,
    /// Wakes loggers waiting for room.
    room: Condvar,
    capacity: usize,
    gather: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Every critical section is an append or a swap: a panic cannot leave it half done.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(&self, line: &[u8]) {
        let mut pending = self.lock();
        // A line larger than the whole capacity still goes in, alone.
        while !pending.bytes.is_empty()
            && pending.bytes.len() + line.len() > self.capacity
            && !pending.closing
        {
            pending.logger_waits_for_room = true;
            self.lines_waiting.notify_one();
            pending = self.room.wait(pending).unwrap_or_else(|p| p.into_inner());
        }
        pending.bytes.extend_from_slice(line);
        let wake = std::mem::take(&mut pending.thread_waits_for_lines);
        drop(pending);
        if wake {
            self.lines_waiting.notify_one();
        }
    }
}

/// The `MakeWriter` of the fmt layer; cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Keeps the logging thread running; dropping it writes every waiting line, then stops it.
pub struct BatchGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the logging thread writing to `sink`; at most `capacity` bytes wait at a time, and
/// a busy service's lines gather for `gather` (`GATHER` in the service).
pub fn start<W: Write + Send + 'static>(
    sink: W,
    capacity: usize,
    gather: Duration,
) -> io::Result<(BatchWriter, BatchGuard)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending {
            bytes: Vec::with_capacity(INITIAL_BYTES.min(capacity)),
            closing: false,
            thread_waits_for_lines: false,
            logger_waits_for_room: false,
        }),
        lines_waiting: Condvar::new(),
        room: Condvar::new(),
        capacity,
        gather,
    });
    let thread_shared = Arc::clone(&shared);
    let thread = thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_batches(&thread_shared, sink))?;
    Ok((
        BatchWriter {
            shared: Arc::clone(&shared),
        },
        BatchGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_batches<W: Write>(shared: &Shared, mut sink: W) {
    let mut batch = Vec::with_capacity(INITIAL_BYTES.min(shared.capacity));
    let mut recent_writes = RecentWrites::default();
    let mut failed = false;
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.closing {
            pending.thread_waits_for_lines = true;
            pending = shared
                .lines_waiting
                .wait(pending)
                .unwrap_or_else(|p| p.into_inner());
        }
        pending.thread_waits_for_lines = false;
        if pending.bytes.is_empty() {
            break;
        }
        if let Some(until) = recent_writes.gather_until(shared.gather) {
            pending = gather(shared, pending, until);
        }
        pending.logger_waits_for_room = false;
        std::mem::swap(&mut pending.bytes, &mut batch);
        drop(pending);
        shared.room.notify_all();
        recent_writes.record(Instant::now());
        // A log that cannot be written is reported once; the service keeps serving.
        if let Err(error) = sink.write_all(&batch).and_then(|()| sink.flush())
            && !failed
        {
            failed = true;
            eprintln!(
                "app-rust: writing the log to stdout failed: {error}; later lines may be lost"
            );
        }
        batch.clear();
    }
}

/// Lets lines gather until `until`, unless the guard is dropped or a logger waits for room.
fn gather<'a>(
    shared: &'a Shared,
    pending: MutexGuard<'a, Pending>,
    until: Instant,
) -> MutexGuard<'a, Pending> {
    shared
        .lines_waiting
        .wait_timeout_while(
            pending,
            until.saturating_duration_since(Instant::now()),
            |pending| !pending.closing && !pending.logger_waits_for_room,
        )
        .map(|(guard, _)| guard)
        .unwrap_or_else(|p| p.into_inner().0)
}

/// When the last `BURST` writes started.
#[derive(Default)]
struct RecentWrites {
    started: [Option<Instant>; BURST],
    next: usize,
}

impl RecentWrites {
    fn record(&mut self, at: Instant) {
        self.started[self.next] = Some(at);
        self.next = (self.next + 1) % BURST;
    }

    /// When the next write may start, if not at once: `gather` after the oldest of the last
    /// `BURST` writes, while that is still ahead.
    fn gather_until(&self, gather: Duration) -> Option<Instant> {
        let oldest = self.started[self.next]?;
        let until = oldest + gather;
        (until > Instant::now()).then_some(until)
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.lines_waiting.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

/// What the fmt layer writes one formatted event into.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.shared.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink the test can read, and block until released.
    #[derive(Clone, Default)]
    struct Sink {
        written: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        gate: Option<Arc<Mutex<()>>>,
    }

    impl Sink {
        /// A sink whose writes block while the returned gate is locked.
        fn gated() -> (Sink, Arc<Mutex<()>>) {
            let gate = Arc::new(Mutex::new(()));
            let sink = Sink {
                gate: Some(Arc::clone(&gate)),
                ..Sink::default()
            };
            (sink, gate)
        }

        fn text(&self) -> String {
            String::from_utf8(self.written.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _open = self.gate.as_ref().map(|gate| gate.lock().unwrap());
            self.written.lock().unwrap().extend_from_slice(bytes);
            *self.writes.lock().unwrap() += 1;
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log_lines(writer: &BatchWriter, from: usize, to: usize) {
        for i in from..to {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
    }

    fn expected(from: usize, to: usize) -> String {
        (from..to).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn lines_logged_during_a_write_go_out_together_in_order() {
        // The sink is held while all the lines are logged, as a slow stdout would be: the
        // lines that arrive during the first write must leave in one more write, not one
        // write each, whatever the speed of this machine.
        let (sink, gate) = Sink::gated();
        let (writer, guard) = start(sink.clone(), 1 << 20, GATHER).unwrap();
        let held = gate.lock().unwrap();
        log_lines(&writer, 0, 10_000);
        drop(held);
        drop(guard);
        assert_eq!(sink.text(), expected(0, 10_000));
        let writes = *sink.writes.lock().unwrap();
        assert!(writes <= 2, "10,000 lines took {writes} writes");
    }

    /// Logs lines `from..to` one at a time, each once the one before is written; returns how
    /// long each took to be written.
    fn log_one_by_one(writer: &BatchWriter, sink: &Sink, from: usize, to: usize) -> Vec<Duration> {
        (from..to)
            .map(|i| {
                let logged = Instant::now();
                log_lines(writer, i, i + 1);
                let deadline = logged + Duration::from_secs(10);
                while sink.text() != expected(0, i + 1) {
                    assert!(Instant::now() < deadline, "line {i} waited to be gathered");
                    thread::sleep(Duration::from_micros(200));
                }
                logged.elapsed()
            })
            .collect()
    }

    #[test]
    fn a_quiet_services_lines_are_written_at_once() {
        // Without a stop, and with a gathering window far longer than the test's patience: a
        // line among the first BURST that waited for it would fail the test.
        let sink = Sink::default();
        let (writer, _guard) = start(sink.clone(), 1 << 20, Duration::from_secs(60)).unwrap();
        log_one_by_one(&writer, &sink, 0, BURST);
    }

    #[test]
    fn after_a_burst_of_writes_lines_gather_for_the_window() {
        let gather = Duration::from_millis(300);
        let sink = Sink::default();
        let (writer, _guard) = start(sink.clone(), 1 << 20, gather).unwrap();
        let first_write = Instant::now();
        log_one_by_one(&writer, &sink, 0, BURST);
        // The thread has written BURST times within the window: the next line waits until
        // the window after the first of them has passed, and then it is written.
        let waited = log_one_by_one(&writer, &sink, BURST, BURST + 1)[0];
        assert!(
            first_write.elapsed() >= gather,
            "line {BURST} was written {waited:?} after it was logged, within the window"
        );
        assert_eq!(*sink.writes.lock().unwrap(), BURST + 1);
    }

    #[test]
    fn a_busy_services_thread_writes_at_most_burst_times_per_window() {
        // A sink as fast as a file: nothing ever arrives during a write, which is what kept
        // the first rule from gathering. Whatever the speed of this machine, every GATHER
        // window holds at most BURST writes, plus the final one of the stop.
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone(), 1 << 20, GATHER).unwrap();
        let started = Instant::now();
        for i in 0..20_000 {
            log_lines(&writer, i, i + 1);
            if i % 1000 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        drop(guard);
        let windows = started.elapsed().as_secs_f64() / GATHER.as_secs_f64();
        let bound = BURST * (windows.ceil() as usize + 1) + 1;
        let writes = *sink.writes.lock().unwrap();
        assert_eq!(sink.text(), expected(0, 20_000));
        assert!(
            writes <= bound,
            "{writes} writes in {windows:.1} windows of {GATHER:?}"
        );
    }

    /// A service that has just written `BURST` times, with a 60 s window: the next lines
    /// would gather for a minute unless something cuts the window short.
    fn gathering_for_a_minute(capacity: usize) -> (Sink, BatchWriter, BatchGuard) {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone(), capacity, Duration::from_secs(60)).unwrap();
        log_one_by_one(&writer, &sink, 0, BURST);
        (sink, writer, guard)
    }

    #[test]
    fn a_stop_ends_the_gathering_at_once() {
        let (sink, writer, guard) = gathering_for_a_minute(1 << 20);
        log_lines(&writer, BURST, BURST + 1);
        let stopping = Instant::now();
        drop(guard);
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "the stop waited for the window"
        );
        assert_eq!(sink.text(), expected(0, BURST + 1));
    }

    #[test]
    fn a_logger_waiting_for_room_ends_the_gathering() {
        let (sink, writer, _guard) = gathering_for_a_minute(64);
        let logging = Instant::now();
        // More than 64 bytes: the logger must wait for room, which only a write makes.
        log_lines(&writer, BURST, BURST + 20);
        assert!(
            logging.elapsed() < Duration::from_secs(10),
            "the logger waited for the window"
        );
        assert!(sink.text().starts_with(&expected(0, BURST + 1)));
    }

    #[test]
    fn loggers_wait_for_room_instead_of_dropping_or_growing() {
        let (sink, gate) = Sink::gated();
        let capacity = 64;
        let (writer, guard) = start(sink.clone(), capacity, GATHER).unwrap();
        let blocked = gate.lock().unwrap();
        // The first batch goes to the blocked sink; the next fills the buffer.
        log_lines(&writer, 0, 1);
        thread::sleep(GATHER * 4);
        let (done, finished) = mpsc::channel();
        let logger = writer.clone();
        let producer = thread::spawn(move || {
            log_lines(&logger, 1, 50);
            done.send(()).unwrap();
        });
        thread::sleep(GATHER * 4);
        assert!(
            finished.try_recv().is_err(),
            "the logger did not wait while {capacity} bytes were waiting"
        );
        assert!(writer.shared.lock().bytes.len() <= capacity);
        drop(blocked);
        producer.join().unwrap();
        drop(guard);
        assert_eq!(sink.text(), expected(0, 50));
    }

    #[test]
    fn a_line_larger_than_the_capacity_is_written_whole() {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone(), 8, GATHER).unwrap();
        let long = format!("{}\n", "x".repeat(100));
        writer.make_writer().write_all(long.as_bytes()).unwrap();
        log_lines(&writer, 0, 3);
        drop(guard);
        assert_eq!(sink.text(), long + &expected(0, 3));
    }
}
