//! The lame-duck shutdown of the real binary: after SIGTERM it answers `/readyz` 503 at once
//! but keeps accepting and serving for `--shutdown-delay-ms`, so that clients which have not yet
//! learnt that the pod left the Service's endpoints are still served. With no delay the same
//! scenario refuses connections, which is what the delay is for.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{BinApp, client_keeping_idle_connections, file_count, temp_dir};
use rustix::process::Signal;
use tokio::sync::Mutex;

const DELAY: Duration = Duration::from_millis(1500);

/// One visit: when it was sent, and its status or why it failed.
struct Outcome {
    sent: Instant,
    result: Result<u16, String>,
}

/// A client that opens a new connection for every request, as a client through a Service's
/// virtual IP does when kube-proxy picks a backend per connection.
fn fresh_connection_client() -> reqwest::Client {
    client_keeping_idle_connections(0)
}

/// Sends visits one after another, each on a new connection, until `stop` is set.
fn visit_until(
    url: String,
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = fresh_connection_client();
        while !stop.load(Ordering::SeqCst) {
            let sent = Instant::now();
            let result = match client.get(&url).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(_) => Ok(status),
                        Err(error) => Err(format!("body: {error}")),
                    }
                }
                Err(error) => Err(format!("{error:?}")),
            };
            outcomes.lock().await.push(Outcome { sent, result });
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

/// Runs the scenario: steady visits, SIGTERM, visits until just before the delay ends.
/// Returns the outcomes sent after SIGTERM, the acknowledged visits, the readiness answers
/// seen during the delay, and the count on disk after the exit.
async fn sigterm_under_steady_visits(delay: Duration) -> (Vec<Outcome>, u64, Vec<u16>, u64) {
    let dir = temp_dir();
    let delay_ms = delay.as_millis().to_string();
    let mut app = BinApp::spawn(dir.path(), &["--shutdown-delay-ms", &delay_ms], &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let visitors: Vec<_> = (0..4)
        .map(|_| visit_until(app.url("/"), Arc::clone(&stop), Arc::clone(&outcomes)))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    app.signal(Signal::TERM);
    // Readiness during the delay, on its own connections, from the moment the process has
    // acted on the signal (delivery is asynchronous; until then it is still ready). With no
    // delay the listener closes at once, so there is nothing to wait for.
    let handled_by = Instant::now() + Duration::from_secs(2);
    while !delay.is_zero()
        && !app
            .logs()
            .iter()
            .any(|line| line.contains("shutdown: not ready; still serving"))
    {
        assert!(
            Instant::now() < handled_by,
            "SIGTERM not handled within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut ready_answers = Vec::new();
    let readiness = fresh_connection_client();
    let window_end = signalled
        + delay
            .saturating_sub(Duration::from_millis(250))
            .max(Duration::from_millis(400));
    while Instant::now() < window_end {
        if let Ok(response) = readiness.get(app.url("/readyz")).send().await {
            ready_answers.push(response.status().as_u16());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for visitor in visitors {
        visitor.await.expect("visitor");
    }
    let status = tokio::task::spawn_blocking(move || app.wait_exit(Duration::from_secs(30)))
        .await
        .expect("join");
    assert!(status.success(), "app-rust exited with {status}");

    let all = std::mem::take(&mut *outcomes.lock().await);
    let acknowledged = all.iter().filter(|o| o.result == Ok(200)).count() as u64;
    let after: Vec<Outcome> = all.into_iter().filter(|o| o.sent >= signalled).collect();
    (after, acknowledged, ready_answers, file_count(dir.path()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn during_the_shutdown_delay_every_new_connection_is_served_and_readiness_is_false() {
    let (after, acknowledged, ready_answers, on_disk) = sigterm_under_steady_visits(DELAY).await;
    eprintln!(
        "lame duck {DELAY:?}: {} visits sent after SIGTERM, {} readiness answers, {acknowledged} acknowledged in all",
        after.len(),
        ready_answers.len()
    );
    assert!(
        after.len() >= 20,
        "only {} visits were sent during the delay",
        after.len()
    );
    let failed: Vec<_> = after
        .iter()
        .filter(|o| o.result != Ok(200))
        .map(|o| &o.result)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} visits after SIGTERM failed: {:?}",
        failed.len(),
        after.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(
        !ready_answers.is_empty() && ready_answers.iter().all(|&s| s == 503),
        "readiness during the delay: {ready_answers:?}"
    );
    assert_eq!(
        on_disk, acknowledged,
        "every acknowledged visit is on disk, and only those"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_delay_the_same_scenario_refuses_connections() {
    let (after, acknowledged, _, on_disk) = sigterm_under_steady_visits(Duration::ZERO).await;
    let refused = after.iter().filter(|o| matches!(&o.result, Err(e) if e.contains("ConnectionRefused") || e.contains("Connection refused"))).count();
    eprintln!(
        "no delay: {refused} of {} visits sent after SIGTERM refused",
        after.len()
    );
    assert!(
        refused > 0,
        "no connection was refused after SIGTERM with no delay: {} outcomes",
        after.len()
    );
    assert_eq!(
        on_disk, acknowledged,
        "every acknowledged visit is on disk, and only those"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_skips_the_rest_of_the_delay() {
    let dir = temp_dir();
    let mut app = BinApp::spawn(dir.path(), &["--shutdown-delay-ms", "60000"], &[]);
    let started = Instant::now();
    app.signal(Signal::TERM);
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.signal(Signal::INT);
    let status = tokio::task::spawn_blocking(move || app.wait_exit(Duration::from_secs(20)))
        .await
        .expect("join");
    assert!(status.success(), "app-rust exited with {status}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the second signal did not cut the 60 s delay short: {:?}",
        started.elapsed()
    );
}
