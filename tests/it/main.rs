//! The integration tests, one binary: the app in process (HTTP, concurrency, hostile input,
//! the cluster view), the real binary as a child process (CLI, durability, shutdown), and the
//! page in a real browser. Shared helpers are in `common`.

mod architecture;
mod cli_config;
mod cluster;
mod common;
mod concurrency;
mod durability;
mod hostile_input;
mod http_api;
mod lame_duck;
mod page_browser;
mod shutdown;
mod subcommands;
mod time_zone;
