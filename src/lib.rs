//! redrepl: a Redis 7.0-compatible server (`redrepl server`) and the tooling that deploys
//! master–replica clusters of it. See docs/architecture.md for the map.

pub mod cli;
pub mod config;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod sysrand;
