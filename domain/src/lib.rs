//! Types and pure logic shared by the Backup Console server and its WebAssembly UI.
//!
//! Nothing here does I/O: aggregating what each component reports into one [`BackupSet`] per
//! backup ID, deciding whether it can be restored, and paging the history are plain functions,
//! tested on their own and compiled into both sides.

pub mod api;
pub mod audit;
pub mod backup_set;
pub mod compact;
pub mod cron;
pub mod fleet;
pub mod id;
pub mod listing;
pub mod merge;
pub mod naming;
pub mod notify;
pub mod procedure;
pub mod retention;
pub mod run;
pub mod runbook;
pub mod schedule;
pub mod status;
pub mod string_enum;
pub mod trigger;
pub mod upstream_state;

pub use backup_set::{BackupSet, Component, ComponentBackup, ComponentState, Verdict};
