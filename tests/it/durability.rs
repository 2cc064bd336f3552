//! Durability of the real binary: `kill -9` under load, a full disk, a read-only or
//! shared data directory, and a corrupt count file.
//!
//! The disk tests mount small tmpfs file systems, so they need root (CI runs as root).
//! They fail, never skip, without it.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{BinApp, file_count as read_count, run_bin};

/// Starts the binary on `data_dir` and waits until `/readyz` answers 200.
async fn start(data_dir: &Path) -> BinApp {
    let app = BinApp::spawn(data_dir, &[], &[]);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(resp) = client.get(app.url("/readyz")).send().await
            && resp.status() == 200
        {
            return app;
        }
        assert!(Instant::now() < deadline, "app-rust not ready in 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn kill_9(app: &mut BinApp) {
    app.child.kill().expect("SIGKILL app-rust");
    app.child.wait().expect("reap app-rust");
}

/// Runs the binary on a directory it must refuse; returns its exit status and stderr.
fn refused_start(data_dir: &Path) -> (std::process::ExitStatus, String) {
    let dir = data_dir.to_str().expect("a UTF-8 temp path");
    let output = run_bin(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", dir],
        &[],
    );
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_never_loses_an_acknowledged_visit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut acknowledged_total = 0;
    let mut attempted_total = 0;
    // Several kill points, counted from the first acknowledged visit so the process is
    // always under load when it dies, landing at different phases of the commit cycle.
    for (round, kill_after_ms) in [0u64, 3, 17, 60, 150, 400].into_iter().enumerate() {
        let mut server = start(&data).await;
        let before = read_count(&data);
        assert!(
            before >= acknowledged_total && before <= attempted_total,
            "round {round}: restart found {before}, acknowledged {acknowledged_total}, attempted {attempted_total}"
        );

        let attempted = Arc::new(AtomicU64::new(0));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let workers: Vec<_> = (0..32)
            .map(|_| {
                let (attempted, acknowledged, stop) =
                    (attempted.clone(), acknowledged.clone(), stop.clone());
                let (client, url) = (client.clone(), server.url("/"));
                tokio::spawn(async move {
                    // Bounded: the server dies within a second, and each worker stops at
                    // its first failure.
                    for _ in 0..100_000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        attempted.fetch_add(1, Ordering::SeqCst);
                        match client.get(&url).send().await {
                            Ok(resp) if resp.status() == 200 => {
                                acknowledged.fetch_add(1, Ordering::SeqCst);
                            }
                            _ => break,
                        }
                    }
                })
            })
            .collect();
        let load_deadline = Instant::now() + Duration::from_secs(10);
        while acknowledged.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < load_deadline,
                "round {round}: no visit acknowledged in 10 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        kill_9(&mut server);
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.await.expect("worker");
        }

        acknowledged_total = before + acknowledged.load(Ordering::SeqCst);
        attempted_total = before + attempted.load(Ordering::SeqCst);
        let persisted = read_count(&data);
        eprintln!(
            "round {round}: killed {kill_after_ms} ms into the load; acknowledged {acknowledged_total} <= persisted {persisted} <= attempted {attempted_total}"
        );
        assert!(
            acknowledged_total <= persisted && persisted <= attempted_total,
            "round {round}: acknowledged {acknowledged_total} <= persisted {persisted} <= attempted {attempted_total} does not hold"
        );
        // The next round continues from the persisted value: visits in flight at the
        // kill that reached the disk are counted, the rest were never acknowledged.
        acknowledged_total = persisted;
        attempted_total = persisted;
    }
    let server = start(&data).await;
    let shown: u64 = reqwest::get(server.url("/visits"))
        .await
        .expect("GET /visits")
        .text()
        .await
        .expect("body")
        .trim()
        .parse()
        .expect("a count");
    assert_eq!(shown, read_count(&data));
}

#[test]
fn a_second_instance_on_the_same_directory_fails_fast() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = runtime.block_on(start(dir.path()));
    let started = Instant::now();
    let (status, stderr) = refused_start(dir.path());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(!status.success(), "the second instance must fail");
    assert!(stderr.contains("already in use"), "stderr: {stderr}");
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "stderr: {stderr}"
    );
}

#[test]
fn a_corrupt_count_stops_startup_and_is_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("visits");
    fs::write(&file, "12abc\n").expect("write corrupt file");
    let (status, stderr) = refused_start(dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains(&file.display().to_string()),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("12abc"), "stderr: {stderr}");
    assert_eq!(fs::read_to_string(&file).expect("read"), "12abc\n");
}

/// A tmpfs mounted for one test and unmounted when dropped.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(options: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mnt");
        fs::create_dir(&path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed ({status}); the disk tests need root (CI runs as root): run `sudo -E cargo test`"
        );
        Tmpfs { _dir: dir, path }
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {options} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn a_read_only_data_directory_stops_startup() {
    let tmpfs = Tmpfs::mount("size=1m,mode=0755");
    tmpfs.remount("ro");
    let (status, stderr) = refused_start(&tmpfs.path);
    assert!(!status.success());
    assert!(stderr.contains("cannot write"), "stderr: {stderr}");
    assert!(
        stderr.contains(&tmpfs.path.display().to_string()),
        "stderr: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_fails_readiness_and_recovers_by_itself() {
    let tmpfs = Tmpfs::mount("size=256k,mode=0755");
    let server = start(&tmpfs.path).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap().status(),
            200
        );
    }
    assert_eq!(read_count(&tmpfs.path), 3);

    // Fill the file system to the last block.
    let filler = tmpfs.path.join("filler");
    let mut file = fs::File::create(&filler).expect("create filler");
    let block = vec![0u8; 4096];
    loop {
        use std::io::Write;
        if file
            .write_all(&block)
            .and_then(|()| file.sync_all())
            .is_err()
        {
            break;
        }
    }
    drop(file);

    let resp = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let message = resp.text().await.unwrap();
    assert!(message.contains("not saved"), "503 body: {message}");
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(read_count(&tmpfs.path), 3, "the old count must stay intact");

    // Free the space: the writer retries on its own and readiness comes back without
    // any visit to trigger it.
    fs::remove_file(&filler).expect("remove filler");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "readiness did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The failed visit was attempted, so it may be kept; the count never goes backwards.
    let after_recovery = read_count(&tmpfs.path);
    assert_eq!(
        after_recovery, 4,
        "the pending count is written on recovery"
    );
    assert_eq!(
        client.get(server.url("/")).send().await.unwrap().status(),
        200
    );
    assert_eq!(read_count(&tmpfs.path), after_recovery + 1);
}

/// The same full-disk behaviour in process and without root: the store's file operations go
/// through a fault-injecting file system that answers ENOSPC while the disk is "full".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_answers_503_fails_readiness_and_recovers_without_root() {
    use app_rust::store::fs::{FaultInjection, Operation};
    use std::sync::atomic::AtomicBool;

    let dir = common::temp_dir();
    let full = Arc::new(AtomicBool::new(false));
    let disk = Arc::clone(&full);
    let fs = FaultInjection::new(move |op| match op {
        Operation::WriteSynced { .. } if disk.load(Ordering::SeqCst) => {
            Err(std::io::Error::from_raw_os_error(28))
        }
        _ => Ok(()),
    });
    let app = common::TestApp::spawn_on_file_system(dir.path(), Arc::new(fs)).await;
    let client = common::client();
    for _ in 0..3 {
        assert_eq!(common::get_text(&client, &app.url("/")).await.0, 200);
    }
    full.store(true, Ordering::SeqCst);
    let (status, message) = common::get_text(&client, &app.url("/")).await;
    assert_eq!(status, 503);
    assert!(message.contains("not saved"), "503 body: {message}");
    assert!(
        message.contains("No space left on device"),
        "503 body: {message}"
    );
    let (status, reason) = common::get_text(&client, &app.url("/readyz")).await;
    assert_eq!(status, 503, "{reason}");
    assert_eq!(read_count(dir.path()), 3, "the old count must stay intact");

    full.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::get_text(&client, &app.url("/readyz")).await.0 != 200 {
        assert!(Instant::now() < deadline, "readiness did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        read_count(dir.path()),
        4,
        "the pending count is written on recovery"
    );
    assert_eq!(common::get_text(&client, &app.url("/")).await.0, 200);
    assert_eq!(read_count(dir.path()), 5);
    app.stop().await;
}
