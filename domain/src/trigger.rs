//! Who or what started a backup: a run of this console, Zeebe's own scheduler, or someone else.

use crate::string_enum::open_string_enum;

open_string_enum! {
    /// Who or what started a run, in its row, the runs list and the audit log.
    pub enum RunTrigger("run trigger") {
        /// Someone in the console (the wizard or a schedule's "Run now").
        Manual = "manual",
        /// A console schedule.
        Schedule = "schedule",
        /// The `backup` command.
        Cli = "cli",
        /// Zeebe's own backup scheduler (Camunda 8.9 and later).
        ZeebeScheduler = "zeebe_scheduler",
        /// Something outside this console.
        External = "external",
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_stays_open() {
        crate::string_enum::assert_open_string_enum!(RunTrigger::Unknown);
    }
}
