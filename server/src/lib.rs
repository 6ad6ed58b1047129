//! Backup Console for Camunda 8: the server. It holds the configuration and credentials, calls
//! each component's management API, and serves the WebAssembly UI and its JSON API.

pub mod api;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod due;
pub mod dumps;
pub mod fleet;
pub mod history;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod procedure;
pub mod progress;
pub mod retention;
pub mod runbook;
pub mod scheduler;
pub mod services;
pub mod status;
pub mod store;
pub mod tls;
pub mod upstream;
pub mod web;
