//! Graceful shutdown of the real binary: on SIGTERM/SIGINT in-flight requests complete, the
//! final count is on disk, the process exits 0.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{BinApp, client, file_count, get_text, temp_dir};
use reqwest::header::ACCEPT;
use rustix::process::Signal;

const CONNECTIONS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_in_flight_visits_and_exits_zero() {
    let dir = temp_dir();
    let mut app = BinApp::spawn(dir.path(), &["--shutdown-timeout-ms", "8000"], &[]);
    let client = client();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let bad_status = Arc::new(AtomicBool::new(false));

    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url) = (client.clone(), app.url("/"));
            let (acknowledged, bad_status) = (Arc::clone(&acknowledged), Arc::clone(&bad_status));
            tokio::spawn(async move {
                // Until the server goes away: every answer it gives must be a counted visit.
                while let Ok(response) = client
                    .get(&url)
                    .header(ACCEPT, "application/json")
                    .send()
                    .await
                {
                    if response.status() != 200 {
                        bad_status.store(true, Ordering::SeqCst);
                        break;
                    }
                    if response.bytes().await.is_err() {
                        break;
                    }
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Let the load build up so that visits are in flight when the signal lands.
    while acknowledged.load(Ordering::SeqCst) < 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.signal(Signal::TERM);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("the clients finish once the server is gone")
            .expect("worker");
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = app.wait_exit(Duration::from_secs(20));
        (status, app)
    })
    .await
    .expect("join");
    let (status, app) = status;
    assert_eq!(
        status.code(),
        Some(0),
        "a clean shutdown exits 0; logs: {:?}",
        app.logs()
    );

    assert!(
        !bad_status.load(Ordering::SeqCst),
        "an in-flight visit was not answered 200"
    );
    let acknowledged = acknowledged.load(Ordering::SeqCst);
    assert_eq!(
        file_count(dir.path()),
        acknowledged,
        "the file holds exactly the acknowledged visits: none lost, none half-served"
    );
    let logs = app.logs().join("\n");
    for message in [
        "shutdown requested",
        "shutdown: not ready, listener closed, draining connections",
        "shutdown: all connections drained",
        "shutdown complete: final visit count is on disk",
    ] {
        assert!(
            logs.contains(message),
            "missing log {message:?} in:\n{logs}"
        );
    }
    let draining = app
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| {
            event["message"] == "shutdown: not ready, listener closed, draining connections"
        })
        .expect("the drain is logged");
    assert!(
        draining["in_flight_connections"].as_u64() > Some(0),
        "the signal landed while connections were open: {draining}"
    );
    assert!(
        client.get(app.url("/healthz")).send().await.is_err(),
        "nothing listens after the exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_an_idle_server_cleanly_and_keeps_the_count() {
    let dir = temp_dir();
    let mut app = BinApp::spawn(dir.path(), &[], &[]);
    let client = client();
    for _ in 0..3 {
        assert_eq!(get_text(&client, &app.url("/")).await.0, 200);
    }
    // An idle keep-alive connection must not hold the shutdown up.
    assert_eq!(get_text(&client, &app.url("/healthz")).await.0, 200);
    app.signal(Signal::INT);
    let status = tokio::task::spawn_blocking(move || app.wait_exit(Duration::from_secs(5)))
        .await
        .expect("join");
    assert_eq!(status.code(), Some(0));
    assert_eq!(file_count(dir.path()), 3);

    let app = BinApp::spawn(dir.path(), &[], &[]);
    assert_eq!(
        get_text(&client, &app.url("/visits")).await,
        (200, "3\n".into())
    );
}
