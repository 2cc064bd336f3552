//! app-rust: a per-replica, durable visit counter served over HTTP.
//!
//! Each module has one job; see docs/CONTRACT.md for the interface the image, the
//! chart and the tests rely on.

pub mod store;
