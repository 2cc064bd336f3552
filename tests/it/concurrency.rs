//! Exactness under heavy concurrency: N concurrent visits leave exactly N in memory, in
//! `/visits`, in the metrics and in the file, and every visit got its own number.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{TestApp, client, file_count, get_text, temp_dir, visits};
use reqwest::header::ACCEPT;

const VISITS: u64 = 20_000;
const CONNECTIONS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_visits_are_counted_exactly() {
    let dir = temp_dir();
    let app = Arc::new(TestApp::spawn(dir.path()).await);
    let client = client();
    let next = Arc::new(AtomicU64::new(0));

    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (app, client, next) = (Arc::clone(&app), client.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < VISITS {
                    let response = client
                        .get(app.url("/"))
                        .header(ACCEPT, "application/json")
                        .send()
                        .await
                        .expect("a response");
                    assert_eq!(response.status(), 200);
                    let page: serde_json::Value = response.json().await.expect("JSON");
                    seen.push(page["visits"].as_u64().expect("a count"));
                }
                seen
            })
        })
        .collect();

    let mut numbers = HashSet::new();
    for worker in workers {
        for number in worker.await.expect("worker") {
            assert!(
                numbers.insert(number),
                "visit number {number} was handed out twice"
            );
        }
    }
    assert_eq!(numbers.len() as u64, VISITS);
    assert_eq!(numbers.iter().min(), Some(&1));
    assert_eq!(
        numbers.iter().max(),
        Some(&VISITS),
        "no lost updates, no gaps"
    );

    assert_eq!(visits(&client, &app).await, VISITS);
    assert_eq!(app.state.store().current(), VISITS);
    assert_eq!(
        file_count(dir.path()),
        VISITS,
        "every acknowledged visit is on disk"
    );
    let (_, metrics) = get_text(&client, &app.url("/metrics")).await;
    assert!(
        metrics.contains(&format!("app_visits_total {VISITS}\n")),
        "{metrics}"
    );

    let app = Arc::into_inner(app).expect("no other handle to the app is left");
    app.stop().await;
    assert_eq!(file_count(dir.path()), VISITS);
}
