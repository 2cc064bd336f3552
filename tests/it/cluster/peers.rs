//! Peers that never answer, answer garbage, drop pooled connections or are many.

use super::*;

/// A TCP server on 127.0.0.1 that accepts connections and never answers.
async fn silent_peer() -> (String, JoinHandle<()>) {
    let (listener, url) = bind_local().await;
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (url, task)
}

/// A TCP server on 127.0.0.1 that reads a request and answers `answer`, then closes.
async fn scripted_peer(answer: Vec<u8>) -> (String, JoinHandle<()>) {
    let (listener, url) = bind_local().await;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, task)
}

fn http_answer(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

#[tokio::test]
async fn silent_and_garbage_peers_are_unreachable_within_the_deadline() {
    let (silent, silent_task) = silent_peer().await;
    let (not_http, not_http_task) =
        scripted_peer(b"\x00\x01garbage, not HTTP\r\n\r\n".to_vec()).await;
    let (bad_json, bad_json_task) = scripted_peer(http_answer(
        "application/json",
        br#"{"visits":-3,"pod":"x"}"#,
    ))
    .await;
    let (huge, huge_task) =
        scripted_peer(http_answer("application/json", &vec![b' '; 1 << 20])).await;
    let extra = vec![
        silent.clone(),
        not_http.clone(),
        bad_json.clone(),
        huge.clone(),
    ];
    let set = start_set(2, &extra).await;
    let client = client();
    visit(&client, &set[0], 2).await;
    visit(&client, &set[1], 3).await;

    let (view, elapsed) = cluster_view(&client, &set[0]).await;
    assert!(elapsed < deadline_with_margin(), "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(PEER_TIMEOUT_MS),
        "the silent peer was waited for up to its timeout: {elapsed:?}"
    );
    assert!(!view.complete);
    assert_eq!(view.total, 5);
    assert_eq!(view.pods, vec![count(&set[0], 2), count(&set[1], 3)]);
    let errors: Vec<(&str, &str)> = view
        .unreachable
        .iter()
        .map(|u| (u.url.as_str(), u.error.as_str()))
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(errors[0], (silent.as_str(), "timeout after 300 ms"));
    assert_eq!(errors[1].0, not_http);
    assert!(
        errors[1].1.starts_with("HTTP exchange failed"),
        "{errors:?}"
    );
    assert_eq!(errors[2].0, bad_json);
    assert!(errors[2].1.starts_with("invalid answer"), "{errors:?}");
    assert_eq!(errors[3], (huge.as_str(), "answer larger than 4096 bytes"));

    // The page still counts exactly one visit, bounded by the deadline.
    let_page_snapshot_expire().await;
    let started = Instant::now();
    let page = page_json(&client, &set[0]).await;
    assert!(started.elapsed() < deadline_with_margin());
    assert_eq!(page.visits, 3);
    let cluster = page.cluster.expect("peers are configured");
    assert_eq!(
        (
            cluster.total,
            cluster.complete,
            cluster.counted,
            cluster.listed
        ),
        (6, false, 2, 6)
    );

    // The peer metrics count what happened.
    let (_, metrics) = common::get_text(&client, &set[0].at("/metrics")).await;
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{metrics}"))
    };
    assert!(sample(r#"app_peer_errors_total{reason="timeout"}"#) >= 2.0);
    assert!(sample(r#"app_peer_errors_total{reason="http"}"#) >= 2.0);
    assert!(sample(r#"app_peer_errors_total{reason="invalid_answer"}"#) >= 2.0);
    assert!(sample(r#"app_peer_errors_total{reason="too_large"}"#) >= 2.0);
    assert!(sample(r#"app_peer_request_duration_seconds_count{outcome="ok"}"#) >= 2.0);
    assert!(sample(r#"app_peer_request_duration_seconds_count{outcome="timeout"}"#) >= 2.0);
    // Four answers for the set, all incomplete: the pages of the two visits, the cluster view
    // and the page above. The series of a reason that never happened exists at zero, for
    // alerts and dashboards to find.
    assert_eq!(
        sample(r#"app_cluster_answers_total{complete="false"}"#),
        4.0
    );
    assert_eq!(sample(r#"app_cluster_answers_total{complete="true"}"#), 0.0);
    assert_eq!(sample(r#"app_peer_errors_total{reason="duplicate"}"#), 0.0);

    for replica in set {
        replica.stop().await;
    }
    for task in [silent_task, not_http_task, bad_json_task, huge_task] {
        task.abort();
    }
}

#[tokio::test]
async fn queries_in_flight_are_bounded_and_the_deadline_still_holds() {
    // More silent peers than query slots: 64 at a time, 300 ms each, so a third round cannot
    // finish before the 800 ms deadline. Without the bound all would time out at 300 ms.
    let silent_count = 150;
    let mut urls = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..silent_count {
        let (url, task) = silent_peer().await;
        urls.push(url);
        tasks.push(task);
    }
    let set = start_set(1, &urls).await;
    let client = client();
    let (view, elapsed) = cluster_view(&client, &set[0]).await;
    assert!(elapsed < deadline_with_margin(), "took {elapsed:?}");
    assert!(!view.complete);
    assert_eq!(view.pods, vec![count(&set[0], 0)]);
    assert_eq!(view.unreachable.len(), silent_count);
    let timeouts = view
        .unreachable
        .iter()
        .filter(|u| u.error == "timeout after 300 ms")
        .count();
    let deadlines = view
        .unreachable
        .iter()
        .filter(|u| u.error == "cluster deadline of 800 ms reached")
        .count();
    assert_eq!(timeouts + deadlines, silent_count, "{:?}", view.unreachable);
    assert!(
        timeouts <= 2 * MAX_PEER_QUERIES_IN_FLIGHT,
        "{timeouts} queries ran to their timeout: more than two rounds of {MAX_PEER_QUERIES_IN_FLIGHT}"
    );
    assert!(deadlines >= silent_count - 2 * MAX_PEER_QUERIES_IN_FLIGHT);
    for replica in set {
        replica.stop().await;
    }
    for task in tasks {
        task.abort();
    }
}

/// Reads one request head; `None` at the end of the connection.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test]
async fn a_pooled_connection_the_peer_dropped_is_retried_once() {
    // A peer that answers the first request of its first connection, keeps the connection
    // open, then drops it when the next request arrives on it (as a restarted peer's old
    // connection would fail). Every later connection is answered normally.
    let (listener, url) = bind_local().await;
    let (connections_tx, mut connections_rx) = mpsc::unbounded_channel::<()>();
    let peer = tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = connections_tx.send(());
            let drop_second_request = std::mem::take(&mut first);
            tokio::spawn(async move {
                let mut answered = 0;
                while read_head(&mut stream).await.is_some() {
                    if drop_second_request && answered == 1 {
                        return;
                    }
                    let body = br#"{"visits":40,"pod":"elsewhere-0"}"#;
                    let mut answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    answer.extend_from_slice(body);
                    if stream.write_all(&answer).await.is_err() {
                        return;
                    }
                    answered += 1;
                }
            });
        }
    });
    let set = start_set(1, std::slice::from_ref(&url)).await;
    let client = client();
    for _ in 0..2 {
        let (view, _) = cluster_view(&client, &set[0]).await;
        assert!(view.complete, "{view:?}");
        assert_eq!(view.total, 40);
    }
    let mut connections = 0;
    while connections_rx.try_recv().is_ok() {
        connections += 1;
    }
    assert_eq!(
        connections, 2,
        "the second view reused, lost and replaced the connection"
    );
    for replica in set {
        replica.stop().await;
    }
    peer.abort();
}

#[tokio::test]
async fn peers_are_asked_for_their_local_count_only() {
    // A fake peer that records every request head and answers a valid local count.
    let (listener, url) = bind_local().await;
    let (heads_tx, mut heads_rx) = mpsc::unbounded_channel::<String>();
    let recorder = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let heads_tx = heads_tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = heads_tx.send(String::from_utf8_lossy(&head).into_owned());
                let body = br#"{"visits":40,"pod":"elsewhere-0"}"#;
                let _ = stream
                    .write_all(&http_answer("application/json", body))
                    .await;
            });
        }
    });
    let set = start_set(1, std::slice::from_ref(&url)).await;
    let client = client();
    visit(&client, &set[0], 2).await;
    let (view, _) = cluster_view(&client, &set[0]).await;
    assert_eq!(view.total, 42);
    assert!(view.complete, "{view:?}");
    assert_eq!(
        view.pods,
        vec![
            count(&set[0], 2),
            PodCount {
                pod: "elsewhere-0".into(),
                visits: 40,
                url: Some(url),
            }
        ]
    );
    for replica in set {
        replica.stop().await;
    }
    recorder.abort();
    let mut heads = Vec::new();
    while let Ok(head) = heads_rx.try_recv() {
        heads.push(head);
    }
    // The page asked (then reused the answer for a while) and the cluster view asked; never
    // scope=cluster, which would make every replica ask every other one again.
    assert!(heads.len() >= 2, "{heads:?}");
    for head in heads {
        assert_eq!(head.lines().next(), Some("GET /visits HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("\r\naccept: application/json\r\n"),
            "{head}"
        );
    }
}
