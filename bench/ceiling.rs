//! The ceiling of the stack, for bench/bench.py: the same page as app-rust's `/` (rendered by
//! the same `PageView`, so the same size and time formatting) with an in-memory counter, on the
//! same axum, hyper and tokio. Nothing else: no disk, no middleware, no metrics, no logs. Each
//! benchmark ratio divides app-rust's durable visits/s by this program's page/s, measured in
//! the same run. Usage: ceiling 127.0.0.1:PORT (prints "listening on ADDR").

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use app_rust::page::PageView;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use chrono::Utc;

#[derive(Default)]
struct Counter {
    visits: AtomicU64,
}

async fn page(State(counter): State<Arc<Counter>>) -> Html<String> {
    let visits = counter.visits.fetch_add(1, Ordering::Relaxed) + 1;
    let view = PageView {
        greeting: "Hello from app-rust",
        pod: "ceiling-0",
        visits,
        now: Utc::now().with_timezone(&chrono_tz::Europe::Moscow),
        cluster: None,
    };
    Html(view.html())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .context("the argument must be an address such as 127.0.0.1:0")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    println!("listening on {}", listener.local_addr()?);
    let app = Router::new()
        .route("/", get(page))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(Arc::new(Counter::default()));
    axum::serve(listener, app).await.context("serving")
}
