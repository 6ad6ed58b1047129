//! Hostile review of p9-rdbms, pure logic: who triggered a set, at the ID edges.

use backup_domain::backup_set::trigger_of;
use backup_domain::schedule::RunTrigger;

/// Held: no panic and no "generated" guess at the edges of u64, and a 10-digit (seconds) ID is
/// never Zeebe's.
#[test]
fn trigger_of_holds_at_the_id_edges() {
    for id in [0, 1, 9_999_999_999, u64::MAX, i64::MAX as u64 + 1] {
        assert_eq!(
            trigger_of(id, None, None, true),
            RunTrigger::External,
            "{id}"
        );
    }
    assert_eq!(
        trigger_of(u64::MAX, Some(RunTrigger::Schedule), None, true),
        RunTrigger::Schedule
    );
    // The smallest and largest 13-digit IDs (2001-09-09 .. 2286-11-20 in epoch ms).
    assert_eq!(
        trigger_of(1_000_000_000_000, None, None, true),
        RunTrigger::ZeebeScheduler
    );
    assert_eq!(
        trigger_of(9_999_999_999_999, None, None, true),
        RunTrigger::ZeebeScheduler
    );
}

/// Finding 6 (low). Zeebe's `offset` is added to generated IDs "to ensure continuation from
/// existing backups" (research §1.4): an offset of 10^13 or more, or one that carries today's ms
/// over 10^13, gives 14-digit generated IDs, and every scheduled backup the state no longer
/// names is shown `external`. The shape test should be "at least 13 digits and not above now +
/// offset", or the offset should be configurable.
#[test]
fn a_generated_id_with_an_offset_is_still_zeebes() {
    let with_offset = 1_772_001_869_309 + 10_000_000_000_000;
    assert_eq!(
        trigger_of(with_offset, None, None, true),
        RunTrigger::ZeebeScheduler
    );
}
