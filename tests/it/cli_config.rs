//! The command line of the real binary: configuration precedence (flag > env > file >
//! default), validation messages that name the setting, `--help`, and `probe`.

use crate::common;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{BinApp, client, get_json, get_text, run_bin, temp_dir};

fn write_config(dir: &std::path::Path, json: &str) -> std::path::PathBuf {
    let path = dir.join("config.json");
    let mut file = std::fs::File::create(&path).expect("create config");
    file.write_all(json.as_bytes()).expect("write config");
    path
}

fn check_config(args: &[&str], envs: &[(&str, &str)]) -> serde_json::Value {
    let mut full = vec!["check-config"];
    full.extend_from_slice(args);
    let output = run_bin(&full, envs);
    assert!(
        output.status.success(),
        "check-config failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("check-config prints JSON")
}

fn check_config_error(args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut full = vec!["check-config"];
    full.extend_from_slice(args);
    let output = run_bin(&full, envs);
    assert_eq!(
        output.status.code(),
        Some(2),
        "invalid configuration exits 2"
    );
    assert!(output.stdout.is_empty(), "nothing on stdout when invalid");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let config = check_config(&[], &[("POD_NAME", "app-rust-0")]);
    assert_eq!(config["listen"], "0.0.0.0:8080");
    assert_eq!(config["dataDir"], "./data");
    assert_eq!(config["podName"], "app-rust-0");
    assert_eq!(config["timezone"], "Europe/Moscow");
    assert_eq!(config["greeting"], "Hello from app-rust");
    assert_eq!(config["logFormat"], "text");
    assert_eq!(config["logLevel"], "info");
    assert_eq!(config["requestTimeoutMs"], 10_000);
    assert_eq!(config["headerReadTimeoutMs"], 5_000);
    assert_eq!(config["maxHeaderBytes"], 16_384);
    assert_eq!(config["maxBodyBytes"], 16_384);
    assert_eq!(config["shutdownTimeoutMs"], 10_000);
    assert_eq!(config["peers"], serde_json::json!([]));
    assert_eq!(config["clusterDomain"], "cluster.local");
    assert_eq!(config["peerTimeoutMs"], 300);
    assert_eq!(config["clusterDeadlineMs"], 800);
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = temp_dir();
    let file = write_config(
        dir.path(),
        r#"{"greeting": "from file", "timezone": "Asia/Tokyo", "maxBodyBytes": 111,
            "logLevel": "debug", "peers": ["http://a:8080", "http://b:8080"]}"#,
    );
    let file = file.to_str().unwrap();

    let only_file = check_config(&["--config", file], &[]);
    assert_eq!(only_file["greeting"], "from file");
    assert_eq!(only_file["timezone"], "Asia/Tokyo");
    assert_eq!(only_file["maxBodyBytes"], 111);
    assert_eq!(only_file["logLevel"], "debug");
    assert_eq!(
        only_file["peers"],
        serde_json::json!(["http://a:8080", "http://b:8080"])
    );
    assert_eq!(
        only_file["listen"], "0.0.0.0:8080",
        "keys absent from the file keep defaults"
    );

    let env = [
        ("CONFIG_FILE", file),
        ("APP_GREETING", "from env"),
        ("APP_MAX_BODY_BYTES", "222"),
        ("APP_PEERS", "http://c:8080,http://d:8080"),
    ];
    let file_and_env = check_config(&[], &env);
    assert_eq!(
        file_and_env["configFile"], file,
        "CONFIG_FILE names the file"
    );
    assert_eq!(file_and_env["greeting"], "from env");
    assert_eq!(file_and_env["maxBodyBytes"], 222);
    assert_eq!(
        file_and_env["peers"],
        serde_json::json!(["http://c:8080", "http://d:8080"])
    );
    assert_eq!(
        file_and_env["timezone"], "Asia/Tokyo",
        "the file still applies"
    );

    let all = check_config(
        &["--greeting", "from flag", "--max-body-bytes", "333"],
        &env,
    );
    assert_eq!(all["greeting"], "from flag");
    assert_eq!(all["maxBodyBytes"], 333);
    assert_eq!(all["timezone"], "Asia/Tokyo");
    assert_eq!(all["logLevel"], "debug");
}

#[test]
fn bad_settings_fail_with_a_message_naming_the_setting_and_its_source() {
    let dir = temp_dir();
    let bad_zone = write_config(dir.path(), r#"{"timezone": "Mars/Olympus_Mons"}"#);
    let message = check_config_error(&["--config", bad_zone.to_str().unwrap()], &[]);
    assert!(message.contains("timezone"), "{message}");
    assert!(message.contains("Mars/Olympus_Mons"), "{message}");
    assert!(
        message.contains(bad_zone.to_str().unwrap()),
        "names the file: {message}"
    );

    let message = check_config_error(&[], &[("APP_LISTEN", "not-an-address")]);
    assert!(
        message.contains("listen") && message.contains("APP_LISTEN"),
        "{message}"
    );

    let message = check_config_error(&["--log-format", "xml"], &[]);
    assert!(
        message.contains("logFormat") && message.contains("--log-format"),
        "{message}"
    );

    let message = check_config_error(&["--max-header-bytes", "100"], &[]);
    assert!(message.contains("maxHeaderBytes"), "{message}");

    let message = check_config_error(&[], &[("APP_REQUEST_TIMEOUT_MS", "soon")]);
    assert!(message.contains("--request-timeout-ms"), "{message}");

    let message = check_config_error(&["--peers", "http://ok:8080,not a url"], &[]);
    assert!(
        message.contains("peers") && message.contains("not a url"),
        "{message}"
    );

    let unknown_key = dir.path().join("unknown.json");
    std::fs::write(&unknown_key, r#"{"greting": "typo"}"#).unwrap();
    let message = check_config_error(&["--config", unknown_key.to_str().unwrap()], &[]);
    assert!(message.contains("greting"), "{message}");

    let missing = dir.path().join("missing.json");
    let message = check_config_error(&[], &[("CONFIG_FILE", missing.to_str().unwrap())]);
    assert!(message.contains(missing.to_str().unwrap()), "{message}");
}

#[test]
fn serve_refuses_to_start_with_bad_configuration() {
    let dir = temp_dir();
    let output = run_bin(
        &["serve", "--data-dir", dir.path().to_str().unwrap()],
        &[
            ("APP_TIMEZONE", "Nowhere/Special"),
            ("APP_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("timezone") && message.contains("APP_TIMEZONE"),
        "{message}"
    );
}

#[test]
fn help_documents_every_setting_with_its_environment_variable() {
    let output = run_bin(&["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env) in [
        ("--config", "CONFIG_FILE"),
        ("--listen", "APP_LISTEN"),
        ("--data-dir", "DATA_DIR"),
        ("--pod-name", "POD_NAME"),
        ("--timezone", "APP_TIMEZONE"),
        ("--greeting", "APP_GREETING"),
        ("--log-format", "APP_LOG_FORMAT"),
        ("--log-level", "APP_LOG_LEVEL"),
        ("--request-timeout-ms", "APP_REQUEST_TIMEOUT_MS"),
        ("--header-read-timeout-ms", "APP_HEADER_READ_TIMEOUT_MS"),
        ("--max-header-bytes", "APP_MAX_HEADER_BYTES"),
        ("--max-body-bytes", "APP_MAX_BODY_BYTES"),
        ("--shutdown-timeout-ms", "APP_SHUTDOWN_TIMEOUT_MS"),
        ("--peers", "APP_PEERS"),
        ("--peer-service", "APP_PEER_SERVICE"),
        ("--namespace", "POD_NAMESPACE"),
        ("--pod-ip", "POD_IP"),
        ("--cluster-domain", "APP_CLUSTER_DOMAIN"),
        ("--peer-timeout-ms", "APP_PEER_TIMEOUT_MS"),
        ("--cluster-deadline-ms", "APP_CLUSTER_DEADLINE_MS"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        assert!(
            help.contains(&format!("[env: {env}=")),
            "--help lacks {env}:\n{help}"
        );
    }
    for default in [
        "0.0.0.0:8080",
        "./data",
        "Europe/Moscow",
        "16384",
        "10000",
        "cluster.local",
    ] {
        assert!(
            help.contains(default),
            "--help lacks the default {default}:\n{help}"
        );
    }
    for subcommand in ["serve", "check-config", "probe"] {
        assert!(
            help.contains(subcommand),
            "--help lacks {subcommand}:\n{help}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_drives_the_running_service() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let file = write_config(
        dir.path(),
        r#"{"greeting": "Greetings from the file", "timezone": "America/New_York"}"#,
    );
    let app = BinApp::spawn(
        &data,
        &["--config", file.to_str().unwrap()],
        &[("POD_NAME", "pod-from-env")],
    );
    let client = client();
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.headers()["x-served-by"], "pod-from-env");
    let body = response.text().await.unwrap();
    assert!(body.contains("Greetings from the file"), "{body}");
    assert!(body.contains("America/New_York"), "{body}");
    let page: serde_json::Value = get_json(&client, &app.url("/")).await;
    assert_eq!(page["timezone"], "America/New_York");
    assert!(
        ["-05:00", "-04:00"].contains(&page["utcOffset"].as_str().unwrap()),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_each_url_and_exits_by_the_worst() {
    let dir = temp_dir();
    let app = BinApp::spawn(dir.path(), &[], &[]);
    let healthz = app.url("/healthz");
    let missing = app.url("/missing");

    let output = run_bin(&["probe", &healthz, &app.url("/readyz")], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.lines().all(|line| line.starts_with("ok ")),
        "{stdout}"
    );

    let output = run_bin(&["probe", &healthz, &missing], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("FAIL {missing} answered 404")),
        "{stdout}"
    );

    let output = run_bin(&["probe", "https://127.0.0.1:1/"], &[]);
    assert_eq!(output.status.code(), Some(1));

    let (status, body) = get_text(&client(), &app.url("/visits")).await;
    assert_eq!((status, body.as_str()), (200, "0\n"), "probes never count");
}

#[test]
fn probe_waits_for_a_server_that_comes_up_later() {
    let dir = temp_dir();
    let port = free_port_below_the_ephemeral_range();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    let prober = {
        let url = url.clone();
        std::thread::spawn(move || {
            run_bin(
                &["probe", "--wait-ms", "15000", "--timeout-ms", "500", &url],
                &[],
            )
        })
    };
    std::thread::sleep(Duration::from_millis(800));
    let listen = format!("127.0.0.1:{port}");
    let _app = BinApp::spawn(dir.path(), &["--listen", &listen], &[]);
    let output = prober.join().expect("prober");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.starts_with(&format!("ok {url} 200")), "{stdout}");
    assert!(started.elapsed() >= Duration::from_millis(800));

    let output = run_bin(&["probe", "--wait-ms", "300", "http://127.0.0.1:1/"], &[]);
    assert_eq!(output.status.code(), Some(1), "gives up after --wait-ms");
}

/// A port that is free now and that no `:0` bind or outgoing connection of the tests running
/// beside this one can take before the app binds it: it lies below the kernel's ephemeral
/// range. (A port from `bind(":0")` lies inside it, and another test's connection once took
/// it in the 800 ms before the app started.)
fn free_port_below_the_ephemeral_range() -> u16 {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("the kernel's ephemeral port range");
    let first_ephemeral: u16 = range
        .split_whitespace()
        .next()
        .and_then(|first| first.parse().ok())
        .expect("a port number");
    (first_ephemeral.saturating_sub(2000)..first_ephemeral)
        .rev()
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port below the ephemeral range")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_one_json_access_log_line() {
    let dir = temp_dir();
    let app = BinApp::spawn(dir.path(), &[], &[("POD_NAME", "log-pod")]);
    let client = client();
    assert_eq!(get_text(&client, &app.url("/")).await.0, 200);
    assert_eq!(get_text(&client, &app.url("/missing?q=1")).await.0, 404);
    assert_eq!(get_text(&client, &app.url("/healthz")).await.0, 200);

    let deadline = Instant::now() + Duration::from_secs(5);
    let access = loop {
        let access: Vec<serde_json::Value> = app
            .logs()
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["target"] == "app_rust::access")
            .collect();
        if access.len() >= 3 || Instant::now() > deadline {
            break access;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(access.len(), 3, "one line per request: {access:?}");
    for (event, (path, status)) in
        access
            .iter()
            .zip([("/", 200), ("/missing", 404), ("/healthz", 200)])
    {
        assert_eq!(event["method"], "GET", "{event}");
        assert_eq!(event["path"], path, "{event}");
        assert_eq!(event["status"], status, "{event}");
        assert_eq!(event["pod"], "log-pod", "{event}");
        assert!(event["latency_ms"].as_f64().is_some(), "{event}");
    }
}

/// The chart's pre-install hook trusts `check-config` to answer exactly as `serve` would: a
/// peer URL that `serve` refuses must make `check-config` fail too, with the same reason.
#[test]
fn check_config_refuses_what_serve_refuses() {
    for peers in ["http://a:8080/?x=1", "http://a:8080/#top"] {
        let checked = check_config_error(&["--peers", peers], &[("POD_NAME", "app-rust-0")]);
        assert!(
            checked.contains("peers") && checked.contains(peers),
            "{checked}"
        );
        let dir = temp_dir();
        let data_dir = dir.path().to_str().expect("a UTF-8 temp path");
        let served = run_bin(
            &["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
            &[("APP_PEERS", peers), ("POD_NAME", "app-rust-0")],
        );
        assert!(!served.status.success(), "serve refuses {peers}");
        let served = String::from_utf8_lossy(&served.stderr);
        assert!(served.contains(peers), "{served}");
    }
}

/// Each cause of a startup error is printed once, however many layers wrap it, across
/// everything the process writes (`kubectl logs` shows stdout and stderr together).
#[test]
fn a_startup_error_prints_each_cause_once() {
    let output = run_bin(
        &["--listen", "127.0.0.1:0"],
        &[
            ("DATA_DIR", "/proc/nonexistent/data"),
            ("POD_NAME", "app-rust-0"),
        ],
    );
    assert!(!output.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        printed.matches("No such file or directory").count(),
        1,
        "{printed}"
    );
    assert!(printed.contains("/proc/nonexistent/data"), "{printed}");
}
