//! Seeded history: backups spread over time, mostly complete, with the failures administrators
//! actually meet (contract §11): a leader change, a partial snapshot, an Operate stuck after its
//! first part (#22871), a partition that never registered, and orphans left by an aborted procedure.

use std::collections::BTreeMap;

use backup_domain::api::{SecondaryStorage, VersionProfile};
use backup_domain::naming;

use super::state::{CheckpointType, Outcome, SimComponent, SimState};

/// What happened to one seeded backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedKind {
    Complete,
    ZeebeFailed,
    WebappsPartial,
    OptimizeFailed,
    RecordsPartial,
    /// The procedure stopped before Zeebe: every other piece exists.
    OrphanWithoutZeebe,
    /// Only the web apps were backed up.
    OrphanWebappsOnly,
    ZeebeIncomplete,
    /// A web-apps backup that stopped after its first part and then timed out (INCOMPLETE).
    WebappsStuck,
    /// Taken, then deleted everywhere: invisible, but its ID is spent in Zeebe.
    Deleted,
}

/// A small deterministic generator (xorshift64*), so that a seed always gives the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn percent(&mut self) -> u64 {
        self.next() % 100
    }
}

fn pick(rng: &mut Rng) -> SeedKind {
    match rng.percent() {
        0..72 => SeedKind::Complete,
        72..78 => SeedKind::ZeebeFailed,
        78..82 => SeedKind::WebappsPartial,
        82..85 => SeedKind::OptimizeFailed,
        85..88 => SeedKind::RecordsPartial,
        88..92 => SeedKind::OrphanWithoutZeebe,
        92..95 => SeedKind::OrphanWebappsOnly,
        95..97 => SeedKind::ZeebeIncomplete,
        97..99 => SeedKind::WebappsStuck,
        _ => SeedKind::Deleted,
    }
}

/// Adds `count` finished backups ending before `now_ms`, newest last; the three newest are always
/// complete so that the cluster has a recent restorable backup. Returns how many of each kind.
pub fn seed_history(
    state: &mut SimState,
    count: usize,
    now_ms: i64,
    seed: u64,
) -> BTreeMap<SeedKind, usize> {
    let mut rng = Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let span_ms: i64 = if count <= 120 {
        6 * 3_600_000
    } else {
        (90 * 86_400_000) / count as i64
    };
    let span_ms = span_ms.max(60_000);
    let webapps: Vec<SimComponent> = match state.profile {
        VersionProfile::V87 => vec![SimComponent::Operate, SimComponent::Tasklist],
        VersionProfile::V88 => vec![SimComponent::Webapps],
    };
    // On RDBMS a backup is Zeebe's alone (§9.1); with Zeebe's scheduler its IDs are
    // generated from the time, in milliseconds (§3.2).
    let rdbms = state.secondary_storage == SecondaryStorage::Rdbms;
    let scheduler = state.zeebe_scheduler;
    let mut kinds = BTreeMap::new();
    for i in 0..count {
        // Up to 10 minutes late, but never past the next one: IDs come from start times and must
        // rise, or a large history loses the sets that would reuse a spent ID.
        let jitter = (span_ms / 2).min(600_000) as u64;
        let age = (count - i) as i64 * span_ms + (rng.next() % jitter) as i64;
        let start = now_ms - age;
        let id = match scheduler {
            Some(z) => start as u64 + z.offset,
            None => (start / 1000) as u64,
        };
        if id <= state.latest_checkpoint {
            continue;
        }
        let mut kind = if i + 3 >= count {
            SeedKind::Complete
        } else {
            pick(&mut rng)
        };
        if rdbms {
            kind = match kind {
                SeedKind::ZeebeFailed | SeedKind::ZeebeIncomplete | SeedKind::Deleted => kind,
                _ => SeedKind::Complete,
            };
        }
        *kinds.entry(kind).or_insert(0) += 1;
        let outcome = |wanted: SeedKind, bad: Outcome| {
            if kind == wanted {
                bad
            } else {
                Outcome::Completed
            }
        };

        // Web apps and Optimize first, then the records snapshot, then Zeebe (§8.1).
        if kind == SeedKind::Deleted {
            state.latest_checkpoint = state.latest_checkpoint.max(id);
            continue;
        }
        if rdbms {
            let zeebe_outcome = match kind {
                SeedKind::ZeebeFailed => Outcome::Failed,
                SeedKind::ZeebeIncomplete => Outcome::Partial,
                _ => Outcome::Completed,
            };
            let checkpoint_type = if scheduler.is_some() {
                CheckpointType::ScheduledBackup
            } else {
                CheckpointType::ManualBackup
            };
            state.add_zeebe_backup_of(id, start, zeebe_outcome, checkpoint_type);
            continue;
        }
        for &app in &webapps {
            let app_outcome = if app == webapps[0] {
                outcome(SeedKind::WebappsPartial, Outcome::Partial)
            } else {
                Outcome::Completed
            };
            let names = state.add_parts(app, id, start, app_outcome);
            if kind == SeedKind::WebappsStuck && app == webapps[0] {
                for name in &names[1..] {
                    state.snapshots.remove(name);
                }
            }
        }
        if kind == SeedKind::OrphanWebappsOnly {
            continue;
        }
        state.add_parts(
            SimComponent::Optimize,
            id,
            start,
            outcome(SeedKind::OptimizeFailed, Outcome::Failed),
        );
        let records = naming::records_snapshot_name(id);
        state.add_records_snapshot(
            &records,
            start + 4_000,
            "zeebe-record*",
            outcome(SeedKind::RecordsPartial, Outcome::Partial),
        );
        if kind == SeedKind::OrphanWithoutZeebe {
            state.latest_checkpoint = state.latest_checkpoint.max(id);
            continue;
        }
        let zeebe_outcome = match kind {
            SeedKind::ZeebeFailed => Outcome::Failed,
            SeedKind::ZeebeIncomplete => Outcome::Partial,
            _ => Outcome::Completed,
        };
        state.add_zeebe_backup(id, start + 5_000, zeebe_outcome);
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Timings, ZeebeScheduler};

    #[test]
    fn an_rdbms_history_is_zeebe_alone_with_generated_ids_under_the_scheduler() {
        let now = 1_800_000_000_000;
        let mut s = SimState::new(VersionProfile::V88, 3, Timings::default());
        s.use_rdbms();
        s.zeebe_scheduler = Some(ZeebeScheduler {
            interval_ms: 3_600_000,
            offset: 0,
        });
        seed_history(&mut s, 40, now, 3);
        assert!(s.snapshots.is_empty(), "no web apps, Optimize or records");
        assert!(s.zeebe_backups.len() > 30);
        assert!(
            s.zeebe_backups
                .values()
                .all(|b| b.backup_id.to_string().len() == 13
                    && b.checkpoint_type == CheckpointType::ScheduledBackup)
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_history_and_the_newest_are_complete() {
        let now = 1_800_000_000_000;
        let mut a = SimState::new(VersionProfile::V87, 3, Timings::default());
        let mut b = SimState::new(VersionProfile::V87, 3, Timings::default());
        let kinds_a = seed_history(&mut a, 200, now, 42);
        let kinds_b = seed_history(&mut b, 200, now, 42);
        assert_eq!(kinds_a, kinds_b);
        assert_eq!(
            a.snapshots.keys().collect::<Vec<_>>(),
            b.snapshots.keys().collect::<Vec<_>>()
        );
        // Failures of several kinds are present, and most sets are complete.
        assert!(kinds_a[&SeedKind::Complete] > 120);
        assert!(kinds_a.len() >= 6, "{kinds_a:?}");
        // The newest Zeebe backup is complete and everything lies in the past.
        let newest = a.zeebe_backups.values().next_back().unwrap();
        assert!(
            newest
                .partitions
                .iter()
                .all(|p| p.failure.is_none() && !p.never_registered)
        );
        assert!(a.snapshots.values().all(|s| s.end_ms() < now));
        assert!(a.latest_checkpoint >= newest.backup_id);
    }
}
