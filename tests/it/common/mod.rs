//! Helpers shared by the integration tests: the app in-process on port 0, the real binary as a
//! child process, an HTTP client for 127.0.0.1 and raw TCP requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app_rust::Config;
use app_rust::routes::AppState;
use app_rust::server::{Application, ServeError};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const BIN: &str = env!("CARGO_BIN_EXE_app-rust");

/// The app served in-process on 127.0.0.1 with a port chosen by the OS.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    serving: Serving,
}

/// An `Application` serving in a task until `stop`.
pub struct Serving {
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<Result<(), ServeError>>,
}

impl Serving {
    pub fn start(application: Application) -> Serving {
        let (shutdown, stopped) = oneshot::channel();
        let server = tokio::spawn(application.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Serving { shutdown, server }
    }

    /// Graceful shutdown, as on SIGTERM: listener and every connection closed; returns
    /// once the final count is on disk.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        self.server
            .await
            .expect("the server task does not panic")
            .expect("the server shuts down cleanly");
    }
}

impl TestApp {
    /// Serves with the defaults, pod name `test-pod`, data in `data_dir`.
    pub async fn spawn(data_dir: &Path) -> TestApp {
        TestApp::spawn_with(data_dir, |_| {}).await
    }

    pub async fn spawn_with(data_dir: &Path, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = TestApp::config(data_dir);
        adjust(&mut config);
        let application = Application::build(config)
            .await
            .expect("the application starts");
        TestApp::serve(application)
    }

    /// Serves with the defaults, the store's file operations going through `fs`.
    pub async fn spawn_on_file_system(
        data_dir: &Path,
        fs: std::sync::Arc<dyn app_rust::store::fs::FileSystem>,
    ) -> TestApp {
        let application = Application::build_with_file_system(TestApp::config(data_dir), fs)
            .await
            .expect("the application starts");
        TestApp::serve(application)
    }

    fn config(data_dir: &Path) -> Config {
        let mut config = Config::for_data_dir(data_dir);
        config.pod_name = pod_name("test-pod");
        config
    }

    fn serve(application: Application) -> TestApp {
        let addr = SocketAddr::from(([127, 0, 0, 1], application.port()));
        let state = application.state().clone();
        TestApp {
            addr,
            state,
            serving: Serving::start(application),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Graceful shutdown, as on SIGTERM; returns once the final count is on disk.
    pub async fn stop(self) {
        self.serving.stop().await;
    }
}

pub fn pod_name(name: &str) -> app_rust::validated::PodName {
    app_rust::validated::PodName::parse(name).expect("a valid pod name")
}

pub fn peer_url(url: &str) -> app_rust::validated::PeerUrl {
    app_rust::validated::PeerUrl::parse(url).expect("a valid peer URL")
}

/// An HTTP client that only talks to 127.0.0.1 (no proxies).
pub fn client() -> reqwest::Client {
    client_keeping_idle_connections(128)
}

/// As `client`, keeping at most `idle` connections per host for reuse; 0 opens a new
/// connection for every request.
pub fn client_keeping_idle_connections(idle: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(idle)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("app-rust-test-")
        .tempdir()
        .expect("a temp dir")
}

/// The count in the `visits` file.
pub fn file_count(data_dir: &Path) -> u64 {
    let path = data_dir.join("visits");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        text.ends_with('\n'),
        "{} must end with a newline: {text:?}",
        path.display()
    );
    text.trim_end()
        .parse()
        .unwrap_or_else(|e| panic!("{} is not a count: {text:?}: {e}", path.display()))
}

pub async fn get_text(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.expect("a response");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// The body of a GET with the given `Accept` header.
pub async fn get_accepting(client: &reqwest::Client, url: &str, accept: &str) -> String {
    client
        .get(url)
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .expect("a response")
        .text()
        .await
        .expect("a body")
}

/// GET with `Accept: application/json`, decoded.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .expect("a response")
        .json()
        .await
        .expect("a JSON body")
}

pub async fn visits(client: &reqwest::Client, app: &TestApp) -> u64 {
    let (status, body) = get_text(client, &app.url("/visits")).await;
    assert_eq!(status, 200, "{body}");
    body.trim().parse().expect("a count")
}

/// Sends raw bytes on a new connection and returns everything the server answers until it
/// closes the connection or `timeout` passes.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(timeout))
        .expect("read timeout");
    // The server may answer and close before reading everything (e.g. 413, 431).
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The real binary running as a child process; killed on drop if still running.
pub struct BinApp {
    pub child: Child,
    pub port: u16,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl BinApp {
    /// Starts `app-rust serve` with JSON logs on 127.0.0.1:0 and waits until it serves.
    pub fn spawn(data_dir: &Path, extra_args: &[&str], envs: &[(&str, &str)]) -> BinApp {
        let mut command = clean_command();
        command.args(["serve", "--log-format", "json"]);
        if !extra_args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        command.envs(envs.iter().copied());
        let mut child = command.spawn().expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && event["message"] == "serving"
                    && let Some(port) = event["port"].as_u64()
                {
                    let _ = port_tx.send(port as u16);
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "the binary did not start serving; logs: {:?}",
                    logs.lock().expect("log lock")
                )
            });
        BinApp { child, port, logs }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a valid pid");
        rustix::process::kill_process(pid, signal).expect("the signal is delivered");
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the process did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }
}

impl Drop for BinApp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary to completion (e.g. `check-config`) with a clean environment for the
/// app's variables plus `envs`.
pub fn run_bin(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = clean_command();
    command.args(args).stdin(Stdio::null());
    command.envs(envs.iter().copied());
    command.output().expect("the binary runs")
}

/// The binary with none of the app's settings inherited from the test's environment.
fn clean_command() -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("APP_")
            || ["CONFIG_FILE", "DATA_DIR", "POD_NAME", "POD_NAMESPACE"].contains(&name.as_str())
        {
            command.env_remove(name);
        }
    }
    command
}
