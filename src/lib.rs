//! app-rust: a per-replica, durable visit counter served over HTTP.
//!
//! Each module has one job (docs/ARCHITECTURE.md draws them and the path of a visit);
//! docs/CONTRACT.md is the interface the image, the chart and the tests rely on.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod dns;
pub mod fetch;
pub mod load;
pub mod metrics;
pub mod page;
pub mod probe;
pub mod readiness;
pub mod routes;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod validated;

pub use config::Config;
pub use routes::app;
pub use server::{Application, StopRequests};
