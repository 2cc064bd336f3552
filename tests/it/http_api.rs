//! The HTTP interface against the app served in-process: what counts a visit and what does
//! not, content negotiation, the X-Served-By header, readiness, metrics.

use crate::common;

use chrono::{DateTime, FixedOffset, Utc};
use common::{TestApp, client, file_count, get_json, get_text, temp_dir, visits};
use reqwest::header::ACCEPT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_view_counts_exactly_one_visit_and_shows_it() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let client = client();
    assert_eq!(visits(&client, &app).await, 0, "a missing file means 0");
    for expected in 1..=3u64 {
        let response = client.get(app.url("/")).send().await.expect("response");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains(&format!("<dd id=\"visits\">{expected}</dd>")),
            "{body}"
        );
        assert!(body.contains("<dd id=\"pod\">test-pod</dd>"), "{body}");
        assert!(body.contains("Hello from app-rust"), "{body}");
        assert_eq!(visits(&client, &app).await, expected);
        assert_eq!(
            file_count(dir.path()),
            expected,
            "acknowledged visits are on disk"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_scrapes_and_unknown_paths_do_not_count() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let client = client();
    assert_eq!(get_text(&client, &app.url("/")).await.0, 200);

    for _ in 0..5 {
        assert_eq!(
            get_text(&client, &app.url("/healthz")).await,
            (200, "ok\n".into())
        );
        assert_eq!(get_text(&client, &app.url("/readyz")).await.0, 200);
        assert_eq!(get_text(&client, &app.url("/metrics")).await.0, 200);
        assert_eq!(
            get_text(&client, &app.url("/visits")).await,
            (200, "1\n".into())
        );
        assert_eq!(get_text(&client, &app.url("/nope")).await.0, 404);
        assert_eq!(get_text(&client, &app.url("/index.html")).await.0, 404);
        assert_eq!(get_text(&client, &app.url("/favicon.ico")).await.0, 404);
        let head = client.head(app.url("/")).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD / answers like GET / ...");
        assert!(
            head.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(head.text().await.unwrap(), "", "... without a body ...");
        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let status = client
                .request(method.clone(), app.url("/"))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 405, "{method} / is not allowed");
        }
    }
    assert_eq!(
        visits(&client, &app).await,
        1,
        "... and without counting a visit"
    );
    assert_eq!(file_count(dir.path()), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_names_the_pod() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let client = client();
    let requests = [
        (reqwest::Method::GET, "/"),
        (reqwest::Method::GET, "/visits"),
        (reqwest::Method::GET, "/healthz"),
        (reqwest::Method::GET, "/readyz"),
        (reqwest::Method::GET, "/metrics"),
        (reqwest::Method::GET, "/missing"),
        (reqwest::Method::POST, "/"),
        (reqwest::Method::HEAD, "/healthz"),
    ];
    for (method, path) in requests {
        let response = client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get("x-served-by")
                .map(|v| v.to_str().unwrap()),
            Some("test-pod"),
            "{method} {path} -> {}",
            response.status()
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_clients_get_json() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let client = client();

    let before = Utc::now();
    let response = client
        .get(app.url("/"))
        .header(ACCEPT, "text/html;q=0.5, application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(page["visits"], 1);
    assert_eq!(page["pod"], "test-pod");
    assert_eq!(page["timezone"], "Europe/Moscow");
    let time: DateTime<FixedOffset> = page["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        page["utcOffset"].as_str().unwrap(),
        time.offset().to_string()
    );
    let skew = (time.with_timezone(&Utc) - before).num_seconds().abs();
    assert!(skew <= 5, "the time shown is {skew}s away from now");

    let response = client
        .get(app.url("/visits"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"visits": 1, "pod": "test-pod"}));

    let (status, text) = get_text(&client, &app.url("/visits")).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "1\n"),
        "plain text by default"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_false_when_shutting_down() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let client = client();
    assert_eq!(get_text(&client, &app.url("/readyz")).await.0, 200);
    app.state.begin_shutdown();
    let (status, body) = get_text(&client, &app.url("/readyz")).await;
    assert_eq!(status, 503);
    assert!(body.contains("shutting down"), "{body}");
    assert_eq!(
        get_text(&client, &app.url("/healthz")).await.0,
        200,
        "still alive"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_requests_visits_persistence_and_build() {
    let dir = temp_dir();
    let app = TestApp::spawn(dir.path()).await;
    let client = client();
    for _ in 0..3 {
        assert_eq!(get_text(&client, &app.url("/")).await.0, 200);
    }
    assert_eq!(
        get_text(&client, &app.url("/no/such/page?x=1")).await.0,
        404
    );
    assert_eq!(get_text(&client, &app.url("/healthz")).await.0, 200);
    let wrong_method = client.post(app.url("/")).send().await.expect("POST /");
    assert_eq!(wrong_method.status(), 405);
    let (status, text) = get_text(&client, &app.url("/metrics")).await;
    assert_eq!(status, 200);
    for needle in [
        r#"http_requests_total{route="/",method="GET",status="200"} 3"#,
        r#"http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"http_requests_total{route="/healthz",method="GET",status="200"} 1"#,
        // A known path with a method it does not serve is still that route's request.
        r#"http_requests_total{route="/",method="POST",status="405"} 1"#,
        r#"http_request_duration_seconds_count{route="/",status="200"} 3"#,
        "app_visits_total 3",
        "app_persist_errors_total 0",
        "app_persist_duration_seconds_count",
        "app_persist_batch_size_sum 3",
        r#"app_build_info{version="0.1.0",name="app-rust"} 1"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    assert!(
        !text.contains("/no/such/page"),
        "raw paths never become labels"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_greeting_and_zone_are_configurable_and_escaped() {
    let dir = temp_dir();
    let app = TestApp::spawn_with(dir.path(), |config| {
        config.greeting = "<b>Hi</b> & welcome".into();
        config.timezone = chrono_tz::Asia::Tokyo;
    })
    .await;
    let client = client();
    let (status, body) = get_text(&client, &app.url("/")).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("&lt;b&gt;Hi&lt;/b&gt; &amp; welcome"),
        "{body}"
    );
    assert!(!body.contains("<b>Hi</b>"));
    assert!(body.contains("Asia/Tokyo (JST, UTC+09:00)"), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_count_survives_a_restart() {
    let dir = temp_dir();
    let client = client();
    let app = TestApp::spawn(dir.path()).await;
    for _ in 0..7 {
        assert_eq!(get_text(&client, &app.url("/")).await.0, 200);
    }
    app.stop().await;
    assert_eq!(file_count(dir.path()), 7);

    let app = TestApp::spawn(dir.path()).await;
    assert_eq!(visits(&client, &app).await, 7);
    let page: serde_json::Value = get_json(&client, &app.url("/")).await;
    assert_eq!(page["visits"], 8);
    app.stop().await;
    assert_eq!(file_count(dir.path()), 8);
}

/// At the counter's maximum no visit can be counted: a visit is refused with 503 and the
/// reason, readiness says why, and the file never changes or wraps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_at_the_counters_maximum_is_refused_and_the_file_never_wraps() {
    let dir = temp_dir();
    let max = u64::MAX.to_string();
    std::fs::write(dir.path().join("visits"), format!("{max}\n")).expect("write visits");
    let app = TestApp::spawn(dir.path()).await;
    let client = client();
    for _ in 0..3 {
        let (status, body) = get_text(&client, &app.url("/")).await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("maximum") && body.contains(&max), "{body}");
        let json = get_json(&client, &app.url("/")).await;
        assert!(
            json["error"]
                .as_str()
                .is_some_and(|e| e.contains("maximum")),
            "{json}"
        );
    }
    let (status, body) = get_text(&client, &app.url("/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("maximum"), "{body}");
    assert_eq!(
        get_text(&client, &app.url("/visits")).await,
        (200, format!("{max}\n"))
    );
    assert_eq!(file_count(dir.path()), u64::MAX);
    app.stop().await;
    assert_eq!(file_count(dir.path()), u64::MAX);
}
