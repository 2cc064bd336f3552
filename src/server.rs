//! Startup and the connection loop: `Application::build` opens the store and binds the listener;
//! `run` serves HTTP/1.1 with bounded header read time and head size until a stop request, then
//! shuts down as a lame duck: not ready at once, still serving for `shutdownDelayMs` (so that
//! endpoint removal reaches kube-proxy and proxies before the listener closes), then drains
//! in-flight requests with a bound and closes the store.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::cluster::ClusterError;
use crate::config::Config;
use crate::metrics::PersistMetrics;
use crate::routes::{AppState, app};
use crate::store::fs::{FileSystem, OsFileSystem};
use crate::store::{StoreError, VisitStore};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {cause} (check --listen / APP_LISTEN)")]
    Bind { addr: SocketAddr, cause: io::Error },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("saving the final visit count at shutdown failed: {0}")]
    CloseStore(StoreError),
}

/// A bound, ready-to-run service.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    config: Config,
}

impl Application {
    /// Opens (locks and loads) the store and binds the listener. Nothing is served yet.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        Application::build_on(config, None, Arc::new(OsFileSystem)).await
    }

    /// Like `build`, on a listener the caller bound already: tests that must know every
    /// replica's port before starting any of them (the cluster view's peer lists).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Application, StartupError> {
        Application::build_on(config, Some(listener), Arc::new(OsFileSystem)).await
    }

    /// Like `build`, with the store's file operations going through `fs` (tests inject disk
    /// failures this way).
    pub async fn build_with_file_system(
        config: Config,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Application, StartupError> {
        Application::build_on(config, None, fs).await
    }

    async fn build_on(
        config: Config,
        listener: Option<TcpListener>,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Application, StartupError> {
        let persist = PersistMetrics::default();
        let store = VisitStore::open_on(fs, &config.data_dir, Arc::new(persist.clone()))?;
        let listener = match listener {
            Some(listener) => listener,
            None => TcpListener::bind(config.listen)
                .await
                .map_err(|cause| StartupError::Bind {
                    addr: config.listen,
                    cause,
                })?,
        };
        let local_addr = listener.local_addr().map_err(|cause| StartupError::Bind {
            addr: config.listen,
            cause,
        })?;
        let port = local_addr.port();
        let state = AppState::build(&config, store, &persist, local_addr)?;
        Ok(Application {
            listener,
            port,
            state,
            config,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then shuts down as [`Application::run`] does (a
    /// single stop request: the shutdown delay runs in full).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        self.run(StopRequests::after(shutdown)).await
    }

    /// Serves until the first stop request, then: readiness off; keep accepting and serving
    /// for `shutdownDelayMs` (a further stop request cuts it short); stop accepting; drain
    /// in-flight requests (bounded by `shutdownTimeoutMs`); write the final count; return.
    pub async fn run(self, mut stop: StopRequests) -> Result<(), ServeError> {
        let Application {
            listener,
            port,
            state,
            config,
        } = self;
        let router = app(state.clone());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // HTTP/1.1 only: the auto builder's protocol sniffing (h2 prior knowledge) has no read
        // timeout, so it would reopen the slowloris hole that header_read_timeout closes.
        builder = builder.http1_only();
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(config.max_header_bytes);
        let graceful = GracefulShutdown::new();
        let serve = |stream: TcpStream| {
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(router.clone());
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(error = %error, "connection ended with an error");
                }
            });
        };

        tracing::info!(
            listen = %config.listen,
            port,
            pod = %state.pod(),
            data_file = %state.store().data_file().display(),
            visits = state.store().durable(),
            "serving"
        );
        accept_until(&listener, &serve, stop.next()).await;

        let started = Instant::now();
        state.begin_shutdown();
        if !config.shutdown_delay.is_zero() {
            tracing::info!(
                delay_ms = config.shutdown_delay.as_millis() as u64,
                "shutdown: not ready; still serving for the shutdown delay"
            );
            let end_of_delay = async {
                tokio::select! {
                    () = tokio::time::sleep(config.shutdown_delay) => {}
                    () = stop.next() => {
                        tracing::info!("shutdown: a second stop request skips the rest of the delay");
                    }
                }
            };
            accept_until(&listener, &serve, end_of_delay).await;
        }
        drop(listener);
        tracing::info!(
            in_flight_connections = graceful.count(),
            "shutdown: not ready, listener closed, draining connections"
        );
        let drained = tokio::time::timeout(config.shutdown_timeout, graceful.shutdown()).await;
        match drained {
            Ok(()) => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "shutdown: all connections drained"
            ),
            Err(_) => tracing::warn!(
                timeout_ms = config.shutdown_timeout.as_millis() as u64,
                "shutdown: connections still open after the drain bound; closing anyway"
            ),
        }
        let visits = state
            .store()
            .close()
            .await
            .map_err(ServeError::CloseStore)?;
        tracing::info!(
            visits,
            data_file = %state.store().data_file().display(),
            "shutdown complete: final visit count is on disk"
        );
        Ok(())
    }
}

/// Accepts connections and hands each to `serve` until `until` resolves.
async fn accept_until(
    listener: &TcpListener,
    serve: &impl Fn(TcpStream),
    until: impl Future<Output = ()>,
) {
    tokio::pin!(until);
    loop {
        tokio::select! {
            () = &mut until => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve(stream),
                Err(error) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Requests to stop the server: the first starts the shutdown, any later one cuts the
/// shutdown delay short (a second SIGTERM, or Ctrl-C pressed twice).
pub struct StopRequests(mpsc::UnboundedReceiver<()>);

impl StopRequests {
    /// A sender that requests a stop each time it sends, and the requests it makes.
    pub fn channel() -> (mpsc::UnboundedSender<()>, StopRequests) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (sender, StopRequests(receiver))
    }

    /// One stop request, when `shutdown` resolves.
    pub fn after(shutdown: impl Future<Output = ()> + Send + 'static) -> StopRequests {
        let (sender, requests) = StopRequests::channel();
        tokio::spawn(async move {
            shutdown.await;
            let _ = sender.send(());
        });
        requests
    }

    /// A stop request for each SIGTERM and SIGINT.
    pub fn os_signals() -> io::Result<StopRequests> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let (sender, requests) = StopRequests::channel();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                };
                tracing::info!(signal = name, "shutdown requested");
                if sender.send(()).is_err() {
                    break;
                }
            }
        });
        Ok(requests)
    }

    /// The next request; never resolves once no more can come.
    async fn next(&mut self) {
        if self.0.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
