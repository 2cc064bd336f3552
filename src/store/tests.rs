//! The store against the real file system and, through the `fs` seam, a failing one.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{NoopObserver, StoreError, VISITS_FILE, VisitStore, parse_count};

fn open(dir: &Path) -> VisitStore {
    VisitStore::open(dir, Arc::new(NoopObserver)).expect("open store")
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

mod faults {
    use std::io;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::super::fs::{FaultInjection, Operation};
    use super::super::{Health, NoopObserver, StoreError, VisitStore};
    use super::read_count;

    fn open_on(fs: FaultInjection, dir: &std::path::Path) -> VisitStore {
        VisitStore::open_on(Arc::new(fs), dir, Arc::new(NoopObserver)).expect("open store")
    }

    async fn wait_for(store: &VisitStore, health: Health) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while store.health() != health {
            assert!(
                Instant::now() < deadline,
                "health stayed {:?}",
                store.health()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Which operation fails while the fault is on.
    #[derive(Clone, Copy, Debug)]
    enum Failing {
        WriteNoSpace,
        DirectoryFsyncIo,
        Rename,
    }

    impl Failing {
        fn applies(self, op: Operation<'_>) -> Option<io::Error> {
            match (self, op) {
                (Failing::WriteNoSpace, Operation::WriteSynced { .. }) => {
                    Some(io::Error::from_raw_os_error(28)) // ENOSPC
                }
                (Failing::DirectoryFsyncIo, Operation::SyncDir { .. }) => {
                    Some(io::Error::from_raw_os_error(5)) // EIO
                }
                (Failing::Rename, Operation::Rename { .. }) => {
                    Some(io::Error::from_raw_os_error(30)) // EROFS
                }
                _ => None,
            }
        }
    }

    /// A failing disk answers the visit with an error and fails readiness; the durable count
    /// never goes back; once the disk works again the store recovers by itself (no visit
    /// needed) and every counted visit is on disk.
    #[tokio::test]
    async fn a_failing_disk_fails_visits_and_readiness_then_recovers_by_itself() {
        for failing in [
            Failing::WriteNoSpace,
            Failing::DirectoryFsyncIo,
            Failing::Rename,
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let on = Arc::new(Mutex::new(None::<Failing>));
            let switch = Arc::clone(&on);
            let store = open_on(
                FaultInjection::new(move |op| match *switch.lock().expect("switch") {
                    Some(failing) => failing.applies(op).map_or(Ok(()), Err),
                    None => Ok(()),
                }),
                dir.path(),
            );
            assert_eq!(store.record_visit().await.expect("healthy disk"), 1);
            *on.lock().expect("switch") = Some(failing);
            let error = store.record_visit().await.expect_err("failing disk");
            assert!(
                matches!(error, StoreError::WriteFailed(_)),
                "{failing:?}: {error}"
            );
            assert_eq!(store.health(), Health::WriteFailing, "{failing:?}");
            assert_eq!(store.durable(), 1, "{failing:?}");
            assert!(read_count(dir.path()) >= 1, "{failing:?}: never backwards");
            *on.lock().expect("switch") = None;
            wait_for(&store, Health::Ready).await;
            assert_eq!(
                store.durable(),
                2,
                "{failing:?}: the failed visit is written"
            );
            assert_eq!(read_count(dir.path()), 2, "{failing:?}");
            assert_eq!(store.close().await.expect("close"), 2);
        }
    }

    /// A point where a file operation stops until the test lets it go on.
    struct Stall {
        stalled: Mutex<mpsc::Sender<()>>,
        release: Mutex<mpsc::Receiver<()>>,
    }

    /// The test's side of a `Stall`.
    struct Release {
        stalled: mpsc::Receiver<()>,
        release: mpsc::Sender<()>,
    }

    fn stall() -> (Stall, Release) {
        let (stalled_tx, stalled) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let stall = Stall {
            stalled: Mutex::new(stalled_tx),
            release: Mutex::new(release_rx),
        };
        (stall, Release { stalled, release })
    }

    impl Stall {
        /// Called from the hook: says it is here, then waits to be released.
        fn hold(&self) {
            let _ = self.stalled.lock().expect("stall").send(());
            let _ = self
                .release
                .lock()
                .expect("stall")
                .recv_timeout(Duration::from_secs(10));
        }
    }

    impl Release {
        /// Records the first visit in a task and returns once its commit has stalled.
        async fn first_visit_stalled(
            self,
            store: &VisitStore,
        ) -> (
            tokio::task::JoinHandle<Result<u64, StoreError>>,
            mpsc::Sender<()>,
        ) {
            let first = tokio::spawn({
                let store = store.clone();
                async move { store.record_visit().await }
            });
            let Release { stalled, release } = self;
            tokio::task::spawn_blocking(move || stalled.recv_timeout(Duration::from_secs(5)))
                .await
                .expect("join")
                .expect("the first commit started");
            (first, release)
        }
    }

    /// Overlapping commits that finish out of order: the older one fails after a newer one
    /// made a larger count durable. The older commit's visits are durable (the newer count
    /// covers them), so they are acknowledged, readiness stays true and close succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_superseded_by_a_newer_durable_one_is_not_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (stall, release) = stall();
        let store = open_on(
            FaultInjection::new(move |op| match op {
                // The commit of count 1 stalls until released, then fails.
                Operation::WriteSynced { bytes: b"1\n", .. } => {
                    stall.hold();
                    Err(io::Error::from_raw_os_error(5))
                }
                _ => Ok(()),
            }),
            dir.path(),
        );
        let (first, release_tx) = release.first_visit_stalled(&store).await;
        assert_eq!(store.record_visit().await.expect("second visit"), 2);
        assert_eq!(store.durable(), 2);
        release_tx.send(()).expect("release the first commit");
        assert_eq!(
            first.await.expect("join").expect("first visit is durable"),
            1
        );
        assert_eq!(store.health(), Health::Ready);
        assert_eq!(store.close().await.expect("every visit is durable"), 2);
        assert_eq!(read_count(dir.path()), 2);
    }

    /// The newest finished commit decides health: a newer commit that failed is not hidden
    /// by an older one that succeeds after it, and the retry writes the newer count.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_older_success_does_not_hide_a_newer_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (stall, release) = stall();
        let failed_once = Arc::new(Mutex::new(false));
        let store = open_on(
            FaultInjection::new(move |op| match op {
                Operation::WriteSynced { bytes: b"1\n", .. } => {
                    stall.hold();
                    Ok(())
                }
                Operation::WriteSynced { bytes: b"2\n", .. } => {
                    let mut failed = failed_once.lock().expect("flag");
                    match *failed {
                        true => Ok(()),
                        false => {
                            *failed = true;
                            Err(io::Error::from_raw_os_error(28))
                        }
                    }
                }
                _ => Ok(()),
            }),
            dir.path(),
        );
        let (first, release_tx) = release.first_visit_stalled(&store).await;
        let error = store
            .record_visit()
            .await
            .expect_err("the second commit fails");
        assert!(matches!(error, StoreError::WriteFailed(_)), "{error}");
        assert_eq!(store.health(), Health::WriteFailing);
        release_tx.send(()).expect("release the first commit");
        assert_eq!(first.await.expect("join").expect("first visit"), 1);
        wait_for(&store, Health::Ready).await;
        assert_eq!(store.durable(), 2, "the retry wrote the failed visit");
        assert_eq!(store.close().await.expect("close"), 2);
    }

    /// At `u64::MAX` a visit is refused before anything is written.
    #[tokio::test]
    async fn the_count_at_its_maximum_refuses_visits_and_never_wraps() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("visits"), format!("{}\n", u64::MAX)).expect("write");
        let writes = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&writes);
        let store = open_on(
            FaultInjection::new(move |op| {
                if let Operation::WriteSynced { .. } = op {
                    *counted.lock().expect("count") += 1;
                }
                Ok(())
            }),
            dir.path(),
        );
        let before = *writes.lock().expect("count");
        let error = store.record_visit().await.expect_err("no room");
        assert!(
            matches!(error, StoreError::CountExhausted { count: u64::MAX }),
            "{error}"
        );
        assert_eq!(store.health(), Health::CountExhausted);
        assert_eq!(*writes.lock().expect("count"), before, "nothing written");
        assert_eq!(store.close().await.expect("close"), u64::MAX);
        assert_eq!(read_count(dir.path()), u64::MAX);
    }
}

fn read_count(dir: &Path) -> u64 {
    let bytes = fs::read(dir.join(VISITS_FILE)).expect("visits is there");
    parse_count(&bytes).expect("visits parses")
}
