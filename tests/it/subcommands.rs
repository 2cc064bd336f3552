//! `app-rust load` and `app-rust restore` through the real binary: what they print, their exit
//! status, and that bad input or a held directory changes nothing on disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::common::{self, BinApp, TestApp, file_count, run_bin, temp_dir};

/// `app-rust ARGS` run off the async runtime.
async fn bin(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_bin(&args, &[])
    })
    .await
    .expect("the binary ran")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server on 127.0.0.1 that counts the connections it accepts and answers every request on
/// them (keep-alive allowed) as pod `pod-<connection number % 3>`.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let pod = format!("pod-{}", counted.fetch_add(1, Ordering::SeqCst) % 3);
            let answer = service_fn(move |_request| {
                let response = Response::builder()
                    .header("x-served-by", pod.as_str())
                    .body(Full::new(Bytes::from_static(b"ok")));
                async move { response }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), answer));
        }
    });
    (url, connections)
}

#[tokio::test]
async fn load_opens_a_new_connection_per_request_and_counts_by_pod() {
    let (url, connections) = counting_server().await;
    let output = bin(&["load", &url, "--requests", "7"]).await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        7,
        "one connection per request"
    );
    assert!(
        stdout.starts_with(&format!(
            "7 requests to {url} (a new connection each): 7 answered 2xx, 0 failed, in "
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("  pod-0  3\n  pod-1  2\n  pod-2  2\n"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_counts_real_visits_on_the_app() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let output = bin(&[
        "load",
        &app.url("/"),
        "--requests",
        "12",
        "--concurrency",
        "4",
    ])
    .await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("  test-pod  12\n"), "{stdout}");
    assert_eq!(file_count(dir.path()), 12);
    app.stop().await;
}

#[tokio::test]
async fn load_fails_on_any_failed_request_and_on_bad_input() {
    // Nothing listens on port 1 of 127.0.0.1: every connection is refused.
    let output = bin(&["load", "http://127.0.0.1:1/", "--requests", "3"]).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("0 answered 2xx, 3 failed"), "{stdout}");
    assert!(stdout.contains("FAILED 3 x request failed: "), "{stdout}");

    for (args, complaint) in [
        (vec!["--requests", "0"], "--requests"),
        (vec!["--requests", "100001"], "--requests"),
        (vec!["--concurrency", "0"], "--concurrency"),
    ] {
        let output = bin(&[&["load", "http://127.0.0.1:1/"], &args[..]].concat()).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            text(&output.stderr).contains(complaint),
            "{}",
            text(&output.stderr)
        );
    }
    let output = bin(&["load", "ftp://example/"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("only http://"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_reports_non_2xx_answers_as_failures() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("visits"), format!("{}\n", u64::MAX)).expect("write");
    let app = TestApp::spawn(dir.path()).await;
    let output = bin(&["load", &app.url("/"), "--requests", "2"]).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED 2 x HTTP 503"), "{stdout}");
    app.stop().await;
}

fn restore(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let dir = dir.to_str().expect("a UTF-8 path");
    let mut all = vec!["restore", "--data-dir", dir];
    all.extend_from_slice(args);
    run_bin(&all, &[])
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn restore_writes_the_count_as_the_service_would() {
    let dir = temp_dir();
    let output = restore(dir.path(), &["21"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!(
            "restored {}: 0 -> 21\n",
            dir.path().join("visits").display()
        )
    );
    assert_eq!(file_count(dir.path()), 21);
    assert_eq!(
        entries(dir.path()),
        [".lock", "visits"],
        "no temp file left"
    );

    // A corrupt file (what made the service refuse to start) is replaced.
    std::fs::write(dir.path().join("visits"), "twenty\n").expect("write");
    let output = restore(dir.path(), &["21\n"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("not a count (\"twenty\\n\") -> 21"),
        "{}",
        text(&output.stdout)
    );

    // Lowering the count loses visits: only on request.
    let output = restore(dir.path(), &["5"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("--allow-lower"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(file_count(dir.path()), 21);
    let output = restore(dir.path(), &["5", "--allow-lower"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(file_count(dir.path()), 5);
}

#[test]
fn restore_refuses_bad_counts_and_changes_nothing() {
    let dir = temp_dir();
    for bad in ["twelve", "-3", "1.5", "", "18446744073709551616"] {
        // `--`: "-3" would otherwise be taken for a flag (also refused, with exit status 2).
        let output = restore(dir.path(), &["--", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(
            text(&output.stderr).contains("is not a visit count"),
            "{}",
            text(&output.stderr)
        );
    }
    assert!(
        entries(dir.path()).is_empty(),
        "nothing written: {:?}",
        entries(dir.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_directory_a_running_service_holds() {
    let dir = temp_dir();
    let server = BinApp::spawn(dir.path(), &[], &[]);
    let client = common::client();
    for _ in 0..3 {
        assert_eq!(common::get_text(&client, &server.url("/")).await.0, 200);
    }
    let held = dir.path().to_owned();
    let output = tokio::task::spawn_blocking(move || restore(&held, &["100"]))
        .await
        .expect("ran");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("already in use") && stderr.contains("pid"),
        "{stderr}"
    );
    assert_eq!(file_count(dir.path()), 3, "the count is untouched");
    drop(server);

    // Stopped: the restore goes through and the next start serves the restored count.
    let output = restore(dir.path(), &["100"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let server = BinApp::spawn(dir.path(), &[], &[]);
    let (_, count) = common::get_text(&client, &server.url("/visits")).await;
    assert_eq!(count, "100\n");
}
