pub mod backups;
pub mod home;
pub mod not_found;
pub mod overview;
