//! The integration tests, one module per concern, in one binary: each test binary links the whole
//! crate, and linking is most of what a change costs on two cores. Run one module with
//! `cargo test -p backup-console --test integration runs_api::`. The harness (a simulator and a
//! console on real ports, logged in) is the `backup-console-testkit` crate.
//!
//! Two tests keep a binary of their own, because they depend on the whole process:
//! - `tests/login_burst.rs` reads the process-wide high-water mark of concurrent password
//!   checks, which any other test's login would raise;
//! - `tests/auth_logs.rs` installs the global tracing subscriber at TRACE level and searches
//!   everything logged for secrets; it can be installed once per process, and it would capture
//!   every other test's logs.
//!
//! The tests here may run side by side, so none of them sets process-wide state (environment,
//! working directory, a global subscriber); a test that has to goes in a binary of its own.

mod attack_part5;
mod auth_api;
mod bad_input;
mod catalog;
mod catalog_attack;
mod cleanup_lease;
mod compression;
mod dumps;
mod fleet;
mod history_api;
mod history_paging;
mod management_api;
mod metrics;
mod notify;
mod outbound_tls;
mod process;
mod rdbms;
mod realistic_timings;
mod rest_api;
mod resume;
mod retention_api;
mod retention_attack;
mod review_notify;
mod review_notify2;
mod review_p9_dumps;
mod review_p9_rdbms;
mod review_p9_rest;
mod review_part6;
mod review_part8;
mod runbook;
mod runner;
mod runs_api;
mod schedules;
mod script;
mod sim_contract;
mod sim_openapi_88;
mod status_api;
mod tls;
