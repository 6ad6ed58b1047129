//! Properties of the retention planner over arbitrary histories and policies: whatever the input,
//! no protected set is ever deleted and the floor holds, also when any component may be missing
//! from any set.

use std::collections::BTreeSet;

use backup_domain::backup_set::build_set;
use backup_domain::retention::{Decision, Protections, RetentionPolicy, plan};
use backup_domain::{BackupSet, Component, ComponentBackup, ComponentState, Verdict};
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000_000;
const DAY_MS: i64 = 86_400_000;

fn verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        4 => Just(Verdict::Restorable),
        2 => Just(Verdict::RestorablePartial),
        1 => Just(Verdict::InProgress),
        2 => Just(Verdict::NotRestorable),
        1 => Just(Verdict::Unknown),
    ]
}

fn history() -> impl Strategy<Value = Vec<BackupSet>> {
    let row = (
        verdict(),
        prop::option::weighted(0.9, 0i64..400 * DAY_MS),
        any::<bool>(),
    );
    // One set per ID, as the merge of the listings gives.
    prop::collection::btree_map(1u64..400, row, 0..60).prop_map(|rows| {
        rows.into_iter()
            .map(|(id, (verdict, age, orphan))| {
                let mut components = vec![ComponentBackup::new(
                    Component::Zeebe,
                    ComponentState::Completed,
                )];
                if orphan {
                    components.push(ComponentBackup::new(
                        Component::Operate,
                        ComponentState::Missing,
                    ));
                }
                BackupSet {
                    backup_id: id,
                    started_at_ms: age.map(|a| NOW - a),
                    verdict,
                    reasons: Vec::new(),
                    notes: Vec::new(),
                    components,
                    trigger: None,
                }
            })
            .collect()
    })
}

fn component_state() -> impl Strategy<Value = ComponentState> {
    prop_oneof![
        8 => Just(ComponentState::Completed),
        4 => Just(ComponentState::Missing),
        1 => Just(ComponentState::Failed),
        1 => Just(ComponentState::Incomplete),
        1 => Just(ComponentState::InProgress),
        1 => Just(ComponentState::Unknown),
    ]
}

/// Histories assessed from their components, as the console builds them, where any component
/// may be missing from any set (a component added later, a listing that answers `[]`).
fn assessed_history() -> impl Strategy<Value = Vec<BackupSet>> {
    const COMPONENTS: [Component; 5] = [
        Component::Zeebe,
        Component::Operate,
        Component::Tasklist,
        Component::Optimize,
        Component::RecordsSnapshot,
    ];
    let row = (
        prop::collection::vec(component_state(), COMPONENTS.len()),
        prop::option::weighted(0.9, 0i64..400 * DAY_MS),
    );
    prop::collection::btree_map(1u64..400, row, 0..60).prop_map(|rows| {
        rows.into_iter()
            .map(|(id, (states, age))| {
                let components = COMPONENTS
                    .iter()
                    .zip(states)
                    .map(|(&component, state)| {
                        let mut c = ComponentBackup::new(component, state);
                        c.started_at_ms = age.map(|a| NOW - a);
                        c
                    })
                    .collect();
                build_set(id, components)
            })
            .collect()
    })
}

fn policy() -> impl Strategy<Value = RetentionPolicy> {
    (
        prop::option::of(0u32..20),
        prop::option::of(0u32..120),
        0u32..10,
        0u32..6,
    )
        .prop_map(
            |(keep_last, max_age_days, min_restorable, keep_failed)| RetentionPolicy {
                keep_last,
                max_age_days,
                min_restorable,
                keep_failed,
                schedule: None,
            },
        )
}

/// Some of the history's IDs pinned, and maybe one of them being taken right now.
fn protections(ids: Vec<u64>) -> impl Strategy<Value = Protections> {
    let most = ids.len().min(5);
    let candidates = if ids.is_empty() { vec![0] } else { ids.clone() };
    (
        prop::sample::subsequence(ids, 0..=most),
        prop::option::of(prop::sample::select(candidates)),
    )
        .prop_map(|(pinned, running)| Protections {
            pinned: pinned.into_iter().collect(),
            running,
        })
}

fn case() -> impl Strategy<Value = (Vec<BackupSet>, RetentionPolicy, Protections)> {
    (history(), policy()).prop_flat_map(|(sets, policy)| {
        let ids: BTreeSet<u64> = sets.iter().map(|s| s.backup_id).collect();
        (
            Just(sets),
            Just(policy),
            protections(ids.into_iter().collect()),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn no_protected_set_is_ever_deleted((sets, policy, protections) in case()) {
        let p = plan(&sets, &policy, &protections, NOW);
        let deleted: BTreeSet<u64> = p.to_delete().into_iter().collect();
        let newest_restorable = sets
            .iter()
            .filter(|s| s.verdict == Verdict::Restorable)
            .map(|s| s.backup_id)
            .max();
        if let Some(newest) = newest_restorable {
            prop_assert!(!deleted.contains(&newest), "the newest restorable set {} was deleted", newest);
        }
        for id in &protections.pinned {
            prop_assert!(!deleted.contains(id), "pinned {} deleted", id);
        }
        if let Some(running) = protections.running {
            prop_assert!(!deleted.contains(&running), "running {} deleted", running);
        }
        for d in &p.decisions {
            if matches!(d.verdict, Verdict::InProgress | Verdict::Unknown) {
                prop_assert_eq!(d.decision, Decision::Keep, "{:?} {} deleted", d.verdict, d.backup_id);
            }
        }
    }

    #[test]
    fn the_floor_always_holds((sets, policy, protections) in case()) {
        let p = plan(&sets, &policy, &protections, NOW);
        let restorable = p.decisions.iter().filter(|d| d.verdict == Verdict::Restorable).count();
        let kept = p
            .decisions
            .iter()
            .filter(|d| d.verdict == Verdict::Restorable && d.decision == Decision::Keep)
            .count();
        let floor = policy.min_restorable.max(1) as usize;
        prop_assert!(kept >= restorable.min(floor), "{} restorable kept of {}, floor {}", kept, restorable, floor);
    }

    #[test]
    fn the_same_input_gives_the_same_plan_in_any_order((sets, policy, protections) in case()) {
        let first = plan(&sets, &policy, &protections, NOW);
        prop_assert_eq!(&first, &plan(&sets, &policy, &protections, NOW));
        let mut reversed = sets.clone();
        reversed.reverse();
        prop_assert_eq!(&first, &plan(&reversed, &policy, &protections, NOW));
    }

    #[test]
    fn every_set_gets_exactly_one_decision_with_a_reason((sets, policy, protections) in case()) {
        let p = plan(&sets, &policy, &protections, NOW);
        let ids: BTreeSet<u64> = sets.iter().map(|s| s.backup_id).collect();
        let decided: Vec<u64> = p.decisions.iter().map(|d| d.backup_id).collect();
        prop_assert_eq!(decided.len(), ids.len());
        prop_assert_eq!(decided.iter().copied().collect::<BTreeSet<_>>(), ids);
        prop_assert!(p.decisions.iter().all(|d| !d.reason.is_empty()));
    }

    #[test]
    fn a_missing_component_never_costs_the_newest_usable_backup(
        sets in assessed_history(),
        policy in policy(),
    ) {
        let p = plan(&sets, &policy, &Protections::default(), NOW);
        let deleted: BTreeSet<u64> = p.to_delete().into_iter().collect();
        // Usable: Zeebe's backup completed and every component holding the ID completed.
        let usable: Vec<u64> = sets
            .iter()
            .filter(|s| {
                s.component(Component::Zeebe).is_some_and(|z| z.state == ComponentState::Completed)
                    && s.components.iter().all(|c| {
                        matches!(c.state, ComponentState::Completed | ComponentState::Missing)
                    })
            })
            .map(|s| s.backup_id)
            .collect();
        if let Some(newest) = usable.iter().max() {
            prop_assert!(!deleted.contains(newest), "the newest usable set {} was deleted", newest);
        }
        let kept = usable.iter().filter(|id| !deleted.contains(id)).count();
        let floor = policy.min_restorable.max(1) as usize;
        prop_assert!(kept >= usable.len().min(floor), "{} usable kept of {}, floor {}", kept, usable.len(), floor);
        // The guarantees for fully restorable sets are as they were.
        let full: Vec<u64> = sets.iter().filter(|s| s.verdict == Verdict::Restorable).map(|s| s.backup_id).collect();
        if let Some(newest) = full.iter().max() {
            prop_assert!(!deleted.contains(newest), "the newest restorable set {} was deleted", newest);
        }
        let kept_full = full.iter().filter(|id| !deleted.contains(id)).count();
        prop_assert!(kept_full >= full.len().min(floor));
        // Orphans go only when ticked, and partial sets never by the failed-sets rule.
        for d in &p.decisions {
            if d.orphan {
                prop_assert_eq!(d.decision, Decision::Keep, "orphan {} deleted by a rule", d.backup_id);
            }
            if d.verdict == Verdict::RestorablePartial && d.decision == Decision::Delete {
                prop_assert!(!d.reason.contains("not restorable"), "{}", d.reason);
            }
        }
    }

    #[test]
    fn an_unattended_cleanup_never_deletes_most_of_a_history(
        sets in assessed_history(),
        policy in policy(),
    ) {
        let p = plan(&sets, &policy, &Protections::default(), NOW);
        if backup_domain::retention::unattended_refusal(&sets, &p).is_none() {
            let settled = p.decisions.iter().filter(|d| !matches!(d.verdict, Verdict::InProgress | Verdict::Unknown)).count();
            prop_assert!(p.to_delete().len() * 2 <= settled);
        }
    }
}
