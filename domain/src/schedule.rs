//! Schedules of backups and cleanups: which due times a scheduler tick fires or records as missed,
//! what each due time came to, and what the Schedules panel shows. One rule for both kinds:
//!
//! - every due time is claimed once, in the database, and comes to exactly one [`FireOutcome`];
//! - a due time while a run or a cleanup holds the cluster is *skipped*, never queued;
//! - after the console was down, the newest due time that passed fires if it is less than one
//!   interval late (the time to the due time after it); every older one is recorded as *missed*.

use serde::{Deserialize, Serialize};

use crate::cron::Schedule;
use crate::string_enum::open_string_enum;
// In a module of its own: a backup set names it too, and `backup_set` must not reach `cron`.
pub use crate::trigger::RunTrigger;

open_string_enum! {
    /// What a schedule starts.
    pub enum ScheduleKind("schedule kind") {
        /// A backup run (`[clusters.backup] schedule`).
        Backup = "backup",
        /// A retention cleanup (`[clusters.retention] schedule`).
        Cleanup = "cleanup",
        _ => Unknown,
    }
}

open_string_enum! {
    /// What one due time came to.
    pub enum FireOutcome("schedule outcome") {
        /// Claimed by a scheduler that has not yet recorded what it did (or died doing it).
        Claimed = "claimed",
        /// The run or cleanup started.
        Started = "started",
        /// Not started, on purpose: another run or cleanup held the cluster, maintenance mode.
        Skipped = "skipped",
        /// It passed while no console was running, more than one interval ago.
        Missed = "missed",
        /// It tried to start and was refused (a failed preflight, an unconfirmed policy).
        Failed = "failed",
        _ => Unknown,
    }
}

/// One due time and what it came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleFire {
    pub kind: ScheduleKind,
    /// The due time (epoch ms, a whole minute).
    pub due_ms: i64,
    /// When it was handled.
    pub at_ms: i64,
    pub outcome: FireOutcome,
    /// Why it was skipped, missed or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The run (backup) or cleanup it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_id: Option<i64>,
}

/// Where a schedule's expression comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleSource {
    /// The configuration file, no admin has saved one.
    File,
    /// Saved by an admin in the console (it overrides the file's).
    Console,
    /// Neither has one.
    None,
}

/// One schedule as `GET /api/clusters/{name}/schedules` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub kind: ScheduleKind,
    /// A five-field cron in UTC; `None`: no schedule.
    #[serde(default)]
    pub expression: Option<String>,
    pub source: ScheduleSource,
    /// False: paused by an admin (the expression is kept).
    pub enabled: bool,
    /// The next due time that would fire, while enabled and not in maintenance.
    #[serde(default)]
    pub next_ms: Option<i64>,
    /// The latest due time handled, with what it came to.
    #[serde(default)]
    pub last: Option<ScheduleFire>,
    /// The latest due time that started something, when `last` did not.
    #[serde(default)]
    pub last_started: Option<ScheduleFire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ms: Option<i64>,
    /// Why the console takes no schedule of this kind here (Zeebe schedules its own backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// `GET /api/clusters/{name}/schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulesResponse {
    pub schedules: Vec<ScheduleView>,
    /// The most recent due times of both kinds, newest first.
    pub recent: Vec<ScheduleFire>,
}

/// `PUT /api/clusters/{name}/schedules/{kind}`: the backup schedule's expression (omitted: keep
/// it; empty: remove it and fall back to none, not to the file's) and whether it is enabled. A
/// cleanup schedule's expression belongs to the retention policy; only `enabled` applies to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    pub enabled: bool,
}

/// A schedule's state as saved by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSchedule {
    /// `None`: saved as "no schedule" (a file schedule switched off for good).
    #[serde(default)]
    pub expression: Option<String>,
    pub enabled: bool,
    pub updated_by: String,
    pub updated_ms: i64,
}

/// Maintenance mode of a cluster: its schedules are suspended and new runs and cleanups refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    pub since_ms: i64,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `PUT /api/clusters/{name}/maintenance`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceUpdate {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The longest schedule expression accepted.
pub const MAX_EXPRESSION_CHARS: usize = 200;

/// A schedule expression as an admin or the file gives it: a five-field cron that comes due
/// within five years of `now_ms` (the 31st of February never does, and would silently replace a
/// working schedule).
pub fn checked_expression(text: &str, now_ms: i64) -> Result<Schedule, String> {
    if text.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(format!(
            "a schedule has at most {MAX_EXPRESSION_CHARS} characters"
        ));
    }
    let schedule = Schedule::parse(text).map_err(|e| e.to_string())?;
    if schedule.next_after(now_ms).is_none() {
        return Err(format!("`{text}` never comes due"));
    }
    Ok(schedule)
}

/// Due times a tick has to handle, found by [`due_times`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueTimes {
    /// The due time to fire now, if any.
    pub fire: Option<i64>,
    /// The newest due time to record as missed, if any.
    pub missed_latest: Option<i64>,
    /// The oldest missed due time, when several were.
    pub missed_first: Option<i64>,
    /// How many were missed; [`MISSED_COUNTED`] means "at least".
    pub missed: usize,
}

/// Missed due times are counted up to this many; a longer outage says "at least".
pub const MISSED_COUNTED: usize = 10_000;

/// The window searched for the newest due time when more than [`MISSED_COUNTED`] passed.
const RECENT_WINDOW_MS: i64 = 40 * 24 * 3_600_000;

/// The due times in `(after_ms, now_ms]` of `schedule` and what to do with them: the newest fires
/// if it is less than one interval late, every other one is missed.
pub fn due_times(schedule: &Schedule, after_ms: i64, now_ms: i64) -> DueTimes {
    let mut found = DueTimes::default();
    let mut newest = None;
    let mut cursor = after_ms;
    while let Some(due) = schedule.next_after(cursor).filter(|d| *d <= now_ms) {
        if let Some(older) = newest {
            found.missed += 1;
            found.missed_first.get_or_insert(older);
            found.missed_latest = Some(older);
        }
        newest = Some(due);
        cursor = due;
        if found.missed >= MISSED_COUNTED {
            // A frequent schedule over a long outage: skip to the last weeks for the newest.
            let recent = now_ms - RECENT_WINDOW_MS;
            if recent > cursor {
                cursor = recent;
                newest = None;
            }
            while let Some(due) = schedule.next_after(cursor).filter(|d| *d <= now_ms) {
                if let Some(older) = newest {
                    found.missed_latest = Some(older);
                }
                newest = Some(due);
                cursor = due;
            }
            break;
        }
    }
    // The newest is always less than one interval late: the due time after it is still ahead.
    found.fire = newest;
    found
}

/// The reason recorded with missed due times.
pub fn missed_reason(due: &DueTimes) -> String {
    let count = if due.missed >= MISSED_COUNTED {
        format!("at least {MISSED_COUNTED} due times")
    } else if due.missed == 1 {
        "1 due time".to_string()
    } else {
        format!("{} due times", due.missed)
    };
    format!(
        "{count} passed while no console was running, each more than one interval before it came \
         back; only the newest due time within one interval runs"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn every(expr: &str) -> Schedule {
        Schedule::parse(expr).unwrap()
    }

    #[test]
    fn the_enums_stay_open() {
        crate::string_enum::assert_open_string_enum!(ScheduleKind::Unknown);
        crate::string_enum::assert_open_string_enum!(FireOutcome::Unknown);
    }

    #[test]
    fn an_expression_must_parse_come_due_and_stay_short() {
        assert!(checked_expression("0 */6 * * *", 0).is_ok());
        assert!(
            checked_expression("0 0 29 2 *", 0).is_ok(),
            "leap days come"
        );
        let never = checked_expression("0 0 31 2 *", 0).unwrap_err();
        assert!(never.contains("never comes due"), "{never}");
        assert!(checked_expression("every day", 0).is_err());
        let long = format!("0{} * * * *", ",0".repeat(150));
        assert!(
            checked_expression(&long, 0)
                .unwrap_err()
                .contains("at most")
        );
    }

    #[test]
    fn nothing_is_due_before_the_first_due_time() {
        let six_hourly = every("0 */6 * * *");
        assert_eq!(due_times(&six_hourly, 0, 6 * HOUR - 1), DueTimes::default());
    }

    #[test]
    fn a_due_time_on_time_or_a_little_late_fires() {
        let six_hourly = every("0 */6 * * *");
        let on_time = due_times(&six_hourly, 0, 6 * HOUR);
        assert_eq!(on_time.fire, Some(6 * HOUR));
        assert_eq!(on_time.missed, 0);
        let late = due_times(&six_hourly, 0, 6 * HOUR + 5 * HOUR);
        assert_eq!(late.fire, Some(6 * HOUR));
    }

    #[test]
    fn after_an_outage_the_newest_fires_and_the_older_ones_are_missed() {
        let six_hourly = every("0 */6 * * *");
        // Down from 1:00 to 20:00: 6:00 and 12:00 missed, 18:00 fires.
        let due = due_times(&six_hourly, HOUR, 20 * HOUR);
        assert_eq!(due.fire, Some(18 * HOUR));
        assert_eq!(due.missed, 2);
        assert_eq!(due.missed_first, Some(6 * HOUR));
        assert_eq!(due.missed_latest, Some(12 * HOUR));
        assert!(missed_reason(&due).starts_with("2 due times"));
    }

    #[test]
    fn uneven_intervals_are_measured_from_each_due_time() {
        // 00:00 and 01:00 daily. At 01:30 the newest (01:00, 30 minutes late, 23 hours to the
        // next) fires and 00:00 (more than its one-hour interval late) is missed.
        let twice = every("0 0,1 * * *");
        let due = due_times(&twice, -1, 90 * MIN);
        assert_eq!(due.fire, Some(HOUR));
        assert_eq!(due.missed, 1);
        assert_eq!(due.missed_latest, Some(0));
        // 00:00 found at 00:59 is still within its interval: it fires.
        let due = due_times(&twice, -1, HOUR - 1);
        assert_eq!(due.fire, Some(0));
        assert_eq!(due.missed, 0);
    }

    #[test]
    fn a_long_outage_of_a_frequent_schedule_counts_at_least_the_cap_and_still_finds_the_newest() {
        let minutely = every("* * * * *");
        let now = 365 * 24 * HOUR + 30_000;
        let due = due_times(&minutely, 0, now);
        assert_eq!(due.fire, Some(365 * 24 * HOUR));
        assert_eq!(due.missed, MISSED_COUNTED);
        assert_eq!(due.missed_latest, Some(365 * 24 * HOUR - MIN));
        assert!(missed_reason(&due).starts_with("at least"));
    }

    proptest! {
        #[test]
        fn each_due_time_is_handled_once_whatever_the_ticks(
            ticks in proptest::collection::vec(1i64..(3 * HOUR), 1..40),
        ) {
            // Ticks at arbitrary gaps, each handling what is due since the last handled due time:
            // every due time is fired or missed exactly once, in order, and a fired one was less
            // than one interval late.
            let schedule = every("*/20 * * * *");
            let mut now = 0;
            let mut handled = Vec::new();
            let mut last = 0;
            for gap in ticks {
                now += gap;
                let due = due_times(&schedule, last, now);
                if due.missed > 0 {
                    last = due.missed_latest.unwrap();
                    let mut t = due.missed_first.unwrap();
                    for _ in 0..due.missed {
                        handled.push(t);
                        t += 20 * MIN;
                    }
                    prop_assert_eq!(t - 20 * MIN, last);
                }
                if let Some(fire) = due.fire {
                    prop_assert!(now - fire < 20 * MIN);
                    handled.push(fire);
                    last = fire;
                }
            }
            let expected: Vec<i64> = (1..).map(|i| i * 20 * MIN).take_while(|t| *t <= last).collect();
            prop_assert_eq!(handled, expected);
        }
    }
}
