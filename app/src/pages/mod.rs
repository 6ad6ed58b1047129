pub mod audit;
pub mod backups;
pub mod home;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod retention;
pub mod wizard;
