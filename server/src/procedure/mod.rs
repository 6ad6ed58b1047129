//! Running the backup procedure against a cluster. The plan comes from
//! `backup_domain::procedure::plan`; this module holds the I/O around it, starting with the one
//! guarantee everything else relies on: exporting gets resumed.

pub mod recovery;
pub mod resume;
pub mod runner;
pub mod service;
mod start;
pub mod wait;
