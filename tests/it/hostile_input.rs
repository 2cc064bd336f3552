//! Hostile clients: slowloris, idle connections, oversized heads and bodies, garbage. Each is
//! bounded and answered 4xx or cut off, none counts a visit, and others are served meanwhile.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{TestApp, client, get_text, raw_exchange, temp_dir, visits};

const HEADER_TIMEOUT_MS: u64 = 1_000;

async fn spawn(dir: &std::path::Path) -> TestApp {
    TestApp::spawn_with(dir, |config| {
        config.header_read_timeout = Duration::from_millis(HEADER_TIMEOUT_MS);
        config.max_header_bytes = 16_384;
        config.max_body_bytes = 1_024;
    })
    .await
}

/// Sends a request head one byte every 100 ms, never finishing it. Returns how long the
/// server kept the connection open.
fn slowloris(addr: SocketAddr, give_up_after: Duration) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        .iter()
        .chain(b"a".repeat(10_000).iter())
        .copied()
        .collect::<Vec<u8>>();
    let mut answer = [0u8; 512];
    for byte in head {
        if stream.write_all(&[byte]).is_err() {
            return started.elapsed();
        }
        match stream.read(&mut answer) {
            // Closed (0) or answered (e.g. 408): either way the server cut us off.
            Ok(_) => return started.elapsed(),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return started.elapsed(),
        }
        if started.elapsed() > give_up_after {
            panic!("the server kept a slowloris connection open for {give_up_after:?}");
        }
    }
    panic!("the slowloris client ran out of bytes before the server closed the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_cut_off_while_others_are_served() {
    let dir = temp_dir();
    let app = spawn(dir.path()).await;
    let addr = app.addr;
    let attackers: Vec<_> = (0..20)
        .map(|_| std::thread::spawn(move || slowloris(addr, Duration::from_secs(10))))
        .collect();

    // Meanwhile, normal visitors are served promptly.
    let client = client();
    let started = Instant::now();
    let mut served = 0;
    while started.elapsed() < Duration::from_millis(600) {
        let before = Instant::now();
        assert_eq!(get_text(&client, &app.url("/")).await.0, 200);
        // Blocked behind the attackers, a visit would wait for their header timeout (1 s);
        // the margin below it absorbs a loaded machine's fsync latency.
        assert!(
            before.elapsed() < Duration::from_millis(HEADER_TIMEOUT_MS * 8 / 10),
            "a visit waited on the attackers"
        );
        served += 1;
    }

    for attacker in attackers {
        let open_for = tokio::task::spawn_blocking(move || attacker.join().expect("attacker"))
            .await
            .expect("join");
        assert!(
            open_for >= Duration::from_millis(HEADER_TIMEOUT_MS - 100)
                && open_for < Duration::from_millis(HEADER_TIMEOUT_MS + 2_000),
            "a slowloris connection was cut off after {open_for:?}, expected about {HEADER_TIMEOUT_MS} ms"
        );
    }
    assert_eq!(
        visits(&client, &app).await,
        served,
        "the attackers' requests never counted"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_after_the_header_timeout() {
    let dir = temp_dir();
    let app = spawn(dir.path()).await;
    let addr = app.addr;
    let open_for = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf);
        started.elapsed()
    })
    .await
    .expect("join");
    assert!(
        open_for >= Duration::from_millis(HEADER_TIMEOUT_MS - 100)
            && open_for < Duration::from_millis(HEADER_TIMEOUT_MS + 2_000),
        "a silent connection was closed after {open_for:?}"
    );

    // The same bound applies to a keep-alive connection idling after a request.
    let idle_for = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("send");
        let mut buf = [0u8; 1024];
        let mut answer = Vec::new();
        // The whole answer: head and the 3-byte body "ok\n".
        while !answer.ends_with(b"\r\n\r\nok\n") {
            let n = stream.read(&mut buf).expect("an answer");
            assert!(
                n > 0,
                "closed before answering: {:?}",
                String::from_utf8_lossy(&answer)
            );
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
        let started = Instant::now();
        let n = stream.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the idle connection is closed, not answered");
        started.elapsed()
    })
    .await
    .expect("join");
    assert!(
        idle_for >= Duration::from_millis(HEADER_TIMEOUT_MS - 100)
            && idle_for < Duration::from_millis(HEADER_TIMEOUT_MS + 2_000),
        "an idle keep-alive connection was closed after {idle_for:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_head_gets_431_and_does_not_count() {
    let dir = temp_dir();
    let app = spawn(dir.path()).await;
    let addr = app.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
        for i in 0..40 {
            request.extend_from_slice(format!("X-Big-{i}: {}\r\n", "b".repeat(1_000)).as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        raw_exchange(addr, &request, Duration::from_secs(5))
    })
    .await
    .expect("join");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "expected 431 or a closed connection, got {answer:?}"
    );
    let client = client();
    assert_eq!(
        get_text(&client, &app.url("/")).await.0,
        200,
        "others are still served"
    );
    assert_eq!(visits(&client, &app).await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_413_and_does_not_count() {
    let dir = temp_dir();
    let app = spawn(dir.path()).await;
    let addr = app.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut request =
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n".to_vec();
        request.extend_from_slice(&[b'x'; 4_096]);
        raw_exchange(addr, &request, Duration::from_secs(5))
    })
    .await
    .expect("join");
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "expected 413, got {answer:?}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("x-served-by: test-pod"),
        "{answer}"
    );

    let client = client();
    let (status, _) = get_text(&client, &app.url("/visits")).await;
    assert_eq!(status, 200, "others are still served");
    assert_eq!(visits(&client, &app).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let dir = temp_dir();
    let app = spawn(dir.path()).await;
    let addr = app.addr;
    let garbage: [&[u8]; 4] = [
        b"THIS IS NOT HTTP\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    ];
    for request in garbage {
        let answer = tokio::task::spawn_blocking(move || {
            raw_exchange(addr, request, Duration::from_secs(5))
        })
        .await
        .expect("join");
        assert!(
            answer.starts_with("HTTP/1.1 4"),
            "expected a 4xx for {:?}, got {answer:?}",
            String::from_utf8_lossy(request)
        );
    }
    let client = client();
    assert_eq!(get_text(&client, &app.url("/healthz")).await.0, 200);
    assert_eq!(
        visits(&client, &app).await,
        0,
        "no garbage request counted a visit"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_total_time_bound_gets_503_while_others_are_served() {
    // A peer that accepts connections and never answers makes `/visits?scope=cluster` slow;
    // the peer timeout and cluster deadline are set above the request bound on purpose.
    let silent_peer = std::net::TcpListener::bind("127.0.0.1:0").expect("a silent peer");
    let peer_url = format!("http://{}", silent_peer.local_addr().unwrap());
    let dir = temp_dir();
    let app = TestApp::spawn_with(dir.path(), |config| {
        config.request_timeout = Duration::from_millis(300);
        config.peers = vec![common::peer_url(&peer_url)];
        config.peer_timeout = Duration::from_millis(5_000);
        config.cluster_deadline = Duration::from_millis(5_000);
    })
    .await;
    let client = client();
    let slow = {
        let (client, url) = (client.clone(), app.url("/visits?scope=cluster"));
        tokio::spawn(async move {
            let started = Instant::now();
            let response = client.get(url).send().await.expect("a response");
            (response.status().as_u16(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        get_text(&client, &app.url("/healthz")).await.0,
        200,
        "others are served"
    );
    let (status, took) = slow.await.expect("join");
    assert_eq!(status, 503, "the request bound answers 503");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(3_000),
        "answered after {took:?}, expected about 300 ms"
    );
    drop(silent_peer);
    app.stop().await;
}
