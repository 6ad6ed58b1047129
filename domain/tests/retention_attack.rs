//! Adversarial cases of the retention safety fix (issue 10 item 1, review C1), from a hostile
//! review. The first group each failed before its fix (pins and orphans diluting the half-of-the-
//! history guard, a component on the wrong instance, a contradicted `since_backup_id`, duplicate
//! IDs read by input order, an overflowing start time); the `holds_*` tests and the properties are
//! guarantees that held under attack.

use std::collections::BTreeSet;

use backup_domain::backup_set::{ComponentListing, build_set};
use backup_domain::merge::merge_listings_expecting;
use backup_domain::retention::{
    Decision, Protections, RetentionPlan, RetentionPolicy, plan, plan_unconfigured,
    refuse_selection, unattended_refusal,
};
use backup_domain::{BackupSet, Component, ComponentBackup, ComponentState, Verdict};
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000_000;
const DAY_MS: i64 = 86_400_000;

const ALL: [Component; 5] = [
    Component::Zeebe,
    Component::Operate,
    Component::Tasklist,
    Component::Optimize,
    Component::RecordsSnapshot,
];

fn policy(keep_last: Option<u32>, max_age: Option<u32>, min: u32, failed: u32) -> RetentionPolicy {
    RetentionPolicy {
        keep_last,
        max_age_days: max_age,
        min_restorable: min,
        keep_failed: failed,
        schedule: None,
    }
}

/// A set assessed from its components: every component completed unless listed otherwise.
fn built(id: u64, age_days: i64, states: &[(Component, ComponentState)]) -> BackupSet {
    let components = ALL
        .iter()
        .map(|&c| {
            let state = states
                .iter()
                .find(|(k, _)| *k == c)
                .map_or(ComponentState::Completed, |(_, s)| *s);
            let mut b = ComponentBackup::new(c, state);
            b.started_at_ms = Some(NOW - age_days * DAY_MS);
            b
        })
        .collect();
    build_set(id, components)
}

fn deleted(p: &RetentionPlan) -> BTreeSet<u64> {
    p.to_delete().into_iter().collect()
}

fn completed(c: Component) -> ComponentBackup {
    ComponentBackup::new(c, ComponentState::Completed)
}

fn listed(c: Component, ids: impl IntoIterator<Item = u64>) -> (Component, ComponentListing) {
    (
        c,
        Ok(ids.into_iter().map(|id| (id, completed(c))).collect()),
    )
}

// ---------------------------------------------------------------------------------------------
// Found by the review, fixed
// ---------------------------------------------------------------------------------------------

/// The half-of-the-history guard counts sets no plan can delete (orphans kept until ticked, pins,
/// protected sets) in its denominator, so they dilute it. Here every set that is not an orphan
/// (orphans pile up naturally: each 8.7 run that failed at the Zeebe step leaves web-app
/// snapshots) reads not restorable (records snapshots PARTIAL after a repository problem), and an
/// unattended cleanup deletes 10 of the 11 deletable sets without refusing.
#[test]
fn orphans_dilute_the_half_of_the_history_guard() {
    let mut sets = vec![built(100, 0, &[])];
    for i in 0..10u64 {
        sets.push(built(
            90 - i,
            1 + i as i64,
            &[(Component::RecordsSnapshot, ComponentState::Incomplete)],
        ));
    }
    for i in 0..12u64 {
        sets.push(built(
            60 - i,
            20 + i as i64,
            &[
                (Component::Zeebe, ComponentState::Missing),
                (Component::Optimize, ComponentState::Missing),
                (Component::RecordsSnapshot, ComponentState::Missing),
            ],
        ));
    }
    let p = plan(
        &sets,
        &policy(Some(14), None, 1, 0),
        &Protections::default(),
        NOW,
    );
    let gone = deleted(&p);
    let deletable = p
        .decisions
        .iter()
        .filter(|d| !d.protected && !d.orphan)
        .count();
    assert_eq!(gone.len(), 10);
    assert_eq!(deletable, 10, "the newest restorable set is protected");
    assert!(
        unattended_refusal(&sets, &p).is_some(),
        "an unattended cleanup deletes {} of {} deletable sets ({} settled, orphans counted) \
         without refusing",
        gone.len(),
        deletable,
        p.decisions.len()
    );
}

/// The same dilution with pins: pinned sets can never go, yet count as half of what may.
#[test]
fn pins_dilute_the_half_of_the_history_guard() {
    let sets: Vec<BackupSet> = (1..=20u64)
        .map(|id| {
            if id == 20 {
                built(id, 0, &[])
            } else {
                built(
                    id,
                    21 - id as i64,
                    &[(Component::Optimize, ComponentState::Failed)],
                )
            }
        })
        .collect();
    let protections = Protections {
        pinned: (1..=9).collect(),
        running: None,
    };
    let p = plan(&sets, &policy(Some(14), None, 1, 0), &protections, NOW);
    let gone = deleted(&p);
    assert_eq!(gone, (10..=19).collect(), "every unpinned failed set goes");
    assert!(
        unattended_refusal(&sets, &p).is_some(),
        "10 of the 10 sets that could go are deleted unattended (pins counted as settled)"
    );
}

/// "Refuse when one configured component holds none of the IDs the others hold" (issue 10): a
/// component pointed at the wrong instance holds IDs, just none of ours. The check only asks
/// whether it holds nothing at all.
#[test]
fn a_component_on_the_wrong_instance_is_not_refused() {
    let ours = 1..=10u64;
    let theirs = 101..=110u64;
    let listings = vec![
        listed(Component::Zeebe, ours.clone()),
        listed(Component::Operate, ours.clone()),
        listed(Component::Tasklist, ours.clone()),
        listed(Component::Optimize, theirs),
        listed(Component::RecordsSnapshot, ours),
    ];
    let sets = merge_listings_expecting(listings, &[]);
    assert!(
        sets.iter()
            .filter(|s| s.backup_id <= 10)
            .all(|s| s.verdict == Verdict::RestorablePartial)
    );
    let p = plan(
        &sets,
        &policy(Some(7), None, 3, 0),
        &Protections::default(),
        NOW,
    );
    let why = unattended_refusal(&sets, &p);
    assert!(
        why.as_deref().is_some_and(|w| w.contains("Optimize")),
        "Optimize holds none of the 10 IDs the other components hold, yet: {why:?} (plan deletes {:?})",
        deleted(&p)
    );
}

/// `since_backup_id` is trusted even when the component's own listing contradicts it: records
/// snapshots exist for 1..=10, so the component was there long before N = 100, yet sets 11..=20
/// lacking one (the records snapshot broke) read fully restorable. The newest set complete in
/// every component (10) and every set with a records snapshot are deleted unattended. Without the
/// wrong declaration 11..=20 read partial and 10 is protected as the newest full set.
#[test]
fn a_since_backup_id_the_listing_contradicts_hides_a_gap() {
    let listings = || {
        vec![
            listed(Component::Zeebe, 1..=20),
            listed(Component::Operate, 1..=20),
            listed(Component::Tasklist, 1..=20),
            listed(Component::RecordsSnapshot, 1..=10),
        ]
    };
    let policy = policy(Some(10), None, 1, 0);
    let honest = merge_listings_expecting(listings(), &[]);
    let p = plan(&honest, &policy, &Protections::default(), NOW);
    assert!(
        !deleted(&p).contains(&10),
        "control: 10 is the newest full set"
    );

    let sets = merge_listings_expecting(listings(), &[(Component::RecordsSnapshot, 100)]);
    let p = plan(&sets, &policy, &Protections::default(), NOW);
    let gone = deleted(&p);
    let refusal = unattended_refusal(&sets, &p);
    assert!(
        !gone.contains(&10) || refusal.is_some(),
        "set 10, the newest one holding every component, is deleted unattended; 11..=20 lack \
         the records snapshot but read {:?}; deleted {gone:?}",
        sets[0].verdict
    );
}

/// Duplicate IDs given to the planner: the first copy in input order wins, so the same history in
/// another order deletes an ID that a copy says is the newest restorable set.
#[test]
fn duplicate_ids_make_the_plan_depend_on_input_order() {
    let good = built(5, 1, &[]);
    let bad = built(5, 1, &[(Component::Optimize, ComponentState::Failed)]);
    let older = built(4, 2, &[]);
    let policy = policy(None, None, 1, 0);
    let a = plan(
        &[good.clone(), bad.clone(), older.clone()],
        &policy,
        &Protections::default(),
        NOW,
    );
    let b = plan(&[bad, good, older], &policy, &Protections::default(), NOW);
    assert_eq!(
        a, b,
        "one order keeps ID 5 as the newest restorable set, the other deletes it"
    );
    assert!(!deleted(&b).contains(&5), "ID 5 has a restorable copy");
}

/// The same at the merge: one component listing an ID twice with conflicting states (first wins,
/// the second is dropped unseen) decides the verdict by answer order; the conservative reading
/// (never deleted) is not taken.
#[test]
fn a_component_listing_an_id_twice_is_read_by_answer_order() {
    let merged = |first: ComponentState, second: ComponentState| {
        let listings = vec![
            (
                Component::Zeebe,
                Ok(vec![
                    (7, ComponentBackup::new(Component::Zeebe, first)),
                    (7, ComponentBackup::new(Component::Zeebe, second)),
                    (6, completed(Component::Zeebe)),
                ]),
            ),
            listed(Component::Operate, [6, 7]),
        ];
        merge_listings_expecting(listings, &[])
    };
    let a = merged(ComponentState::Completed, ComponentState::Failed);
    let b = merged(ComponentState::Failed, ComponentState::Completed);
    assert_eq!(
        a[0].verdict, b[0].verdict,
        "the verdict of a doubly listed ID depends on which entry came first"
    );
}

/// A start time far in the past (a component's bogus `start_time_in_millis`) overflows the age
/// computation: a panic in debug builds (the plan, hence the preview and the scheduler, fail).
#[test]
fn an_extreme_start_time_does_not_panic_the_planner() {
    let mut sets: Vec<BackupSet> = (1..=3).map(|id| built(id, 0, &[])).collect();
    sets[0].started_at_ms = Some(i64::MIN);
    let result = std::panic::catch_unwind(|| {
        plan(
            &sets,
            &policy(None, Some(30), 1, 0),
            &Protections::default(),
            NOW,
        )
    });
    assert!(result.is_ok(), "plan panicked on started_at_ms = i64::MIN");
}

// ---------------------------------------------------------------------------------------------
// Guarantees that held (regressions)
// ---------------------------------------------------------------------------------------------

#[test]
fn holds_since_backup_id_edges() {
    // N equal to an ID: that set is expected to hold the component.
    let listings = vec![
        listed(Component::Zeebe, 1..=5),
        listed(Component::Optimize, []),
    ];
    let sets = merge_listings_expecting(listings.clone(), &[(Component::Optimize, 3)]);
    let state = |sets: &[BackupSet], id: u64| {
        sets.iter()
            .find(|s| s.backup_id == id)
            .unwrap()
            .component(Component::Optimize)
            .unwrap()
            .state
    };
    assert_eq!(state(&sets, 3), ComponentState::Missing);
    assert_eq!(state(&sets, 2), ComponentState::NotExpected);
    // Expected where it should be and holding none of those: refused.
    let p = plan(
        &sets,
        &policy(Some(1), None, 1, 0),
        &Protections::default(),
        NOW,
    );
    assert!(unattended_refusal(&sets, &p).is_some_and(|w| w.contains("Optimize")));
    // N above every ID: nothing expected, nothing refused on that ground.
    let sets = merge_listings_expecting(listings, &[(Component::Optimize, 1_000)]);
    assert!(sets.iter().all(|s| s.verdict == Verdict::Restorable));
    // A failing listing wins over since_backup_id: every set unknown, nothing deletable.
    let sets = merge_listings_expecting(
        vec![
            listed(Component::Zeebe, 1..=5),
            (Component::Optimize, Err("HTTP 502".into())),
        ],
        &[(Component::Optimize, 3)],
    );
    assert!(sets.iter().all(|s| s.verdict == Verdict::Unknown));
    let p = plan(
        &sets,
        &policy(Some(1), Some(1), 1, 0),
        &Protections::default(),
        NOW,
    );
    assert!(p.to_delete().is_empty());
}

#[test]
fn holds_an_empty_zeebe_or_records_listing_deletes_nothing_unattended() {
    for empty in [
        Component::Zeebe,
        Component::RecordsSnapshot,
        Component::Tasklist,
    ] {
        let listings: Vec<_> = ALL
            .iter()
            .map(|&c| listed(c, if c == empty { 0..=0 } else { 1..=30 }))
            .map(|(c, l)| {
                (
                    c,
                    l.map(|v| v.into_iter().filter(|(id, _)| *id > 0).collect()),
                )
            })
            .collect();
        let sets = merge_listings_expecting(listings, &[]);
        let p = plan(
            &sets,
            &policy(Some(3), None, 3, 0),
            &Protections::default(),
            NOW,
        );
        assert!(
            unattended_refusal(&sets, &p).is_some(),
            "{empty:?} listing [] must refuse"
        );
        let kept = p
            .decisions
            .iter()
            .filter(|d| d.decision == Decision::Keep)
            .count();
        assert!(kept >= 3, "{empty:?}: {kept} kept");
    }
}

#[test]
fn holds_hand_selection_cannot_take_the_last_partial_or_full_sets() {
    // Newest: partial 10, 9; full 8, 7; floor 3.
    let sets = vec![
        built(10, 1, &[(Component::Optimize, ComponentState::Missing)]),
        built(9, 2, &[(Component::Optimize, ComponentState::Missing)]),
        built(8, 3, &[]),
        built(7, 4, &[]),
    ];
    let p = plan(
        &sets,
        &policy(None, None, 3, 0),
        &Protections::default(),
        NOW,
    );
    let refused = |sel: &[u64]| refuse_selection(&p, sel, 3);
    assert!(
        refused(&[10]).iter().any(|(id, _)| *id == 10),
        "newest partial"
    );
    assert!(refused(&[8]).iter().any(|(id, _)| *id == 8), "newest full");
    assert!(
        !refused(&[9, 7]).is_empty(),
        "would leave 2 of a floor of 3"
    );
    assert!(!refused(&[7]).is_empty(), "the full floor is short already");
    // No policy: the same protections, and hand-picking cannot break them.
    let p = plan_unconfigured(&sets, &Protections::default(), NOW);
    assert!(p.to_delete().is_empty());
    assert!(!refuse_selection(&p, &[10, 9, 8, 7], 3).is_empty());
    assert_eq!(refuse_selection(&p, &[10, 9, 8, 7], 3).len(), 4);
}

// ---------------------------------------------------------------------------------------------
// Properties over adversarial histories: any component in any state (not expected included),
// duplicate-free IDs, missing start times, pins and a running backup, hand selections.
// ---------------------------------------------------------------------------------------------

fn any_state() -> impl Strategy<Value = ComponentState> {
    prop_oneof![
        8 => Just(ComponentState::Completed),
        4 => Just(ComponentState::Missing),
        2 => Just(ComponentState::NotExpected),
        1 => Just(ComponentState::Failed),
        1 => Just(ComponentState::Incomplete),
        1 => Just(ComponentState::Incompatible),
        1 => Just(ComponentState::InProgress),
        1 => Just(ComponentState::Unknown),
    ]
}

fn histories() -> impl Strategy<Value = Vec<BackupSet>> {
    let row = (
        prop::collection::vec(any_state(), ALL.len()),
        prop::option::weighted(0.8, -DAY_MS..400 * DAY_MS),
    );
    prop::collection::btree_map(1u64..200, row, 0..40).prop_map(|rows| {
        rows.into_iter()
            .filter_map(|(id, (mut states, age))| {
                // Zeebe is never "not expected" (the configuration refuses it).
                if states[0] == ComponentState::NotExpected {
                    states[0] = ComponentState::Missing;
                }
                // A set exists only when some component holds its ID.
                if states
                    .iter()
                    .all(|s| matches!(s, ComponentState::Missing | ComponentState::NotExpected))
                {
                    return None;
                }
                let components = ALL
                    .iter()
                    .zip(states)
                    .map(|(&c, s)| {
                        let mut b = ComponentBackup::new(c, s);
                        b.started_at_ms = age.map(|a| NOW - a);
                        b
                    })
                    .collect();
                Some(build_set(id, components))
            })
            .collect()
    })
}

fn policies() -> impl Strategy<Value = RetentionPolicy> {
    (
        prop::option::of(1u32..15),
        prop::option::of(1u32..100),
        1u32..6,
        0u32..4,
    )
        .prop_map(|(k, a, m, f)| policy(k, a, m, f))
}

fn usable(s: &BackupSet) -> bool {
    s.component(Component::Zeebe)
        .is_some_and(|z| z.state == ComponentState::Completed)
        && s.components.iter().all(|c| {
            matches!(
                c.state,
                ComponentState::Completed | ComponentState::Missing | ComponentState::NotExpected
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_500))]

    #[test]
    fn prop_plan_and_hand_selection_never_cost_the_newest_or_the_floor(
        sets in histories(),
        policy in policies(),
        pins in prop::collection::btree_set(1u64..200, 0..4),
        running in prop::option::of(1u64..200),
        selection in prop::collection::vec(1u64..200, 0..12),
    ) {
        let protections = Protections { pinned: pins.clone(), running };
        let p = plan(&sets, &policy, &protections, NOW);
        let refused: BTreeSet<u64> = refuse_selection(&p, &selection, policy.floor())
            .into_iter().map(|(id, _)| id).collect();
        // The server refuses the whole request when anything is refused: model that.
        let mut gone = deleted(&p);
        if refused.is_empty() {
            gone.extend(selection.iter().copied());
        }
        let floor = policy.floor() as usize;
        for (label, pick) in [
            ("usable", &usable as &dyn Fn(&BackupSet) -> bool),
            ("full", &|s: &BackupSet| s.verdict == Verdict::Restorable),
        ] {
            let ids: Vec<u64> = sets.iter().filter(|s| pick(s)).map(|s| s.backup_id).collect();
            if let Some(newest) = ids.iter().max() {
                prop_assert!(!gone.contains(newest), "newest {} set {} deleted", label, newest);
            }
            let kept = ids.iter().filter(|id| !gone.contains(id)).count();
            prop_assert!(kept >= ids.len().min(floor), "{}: {} kept of {}, floor {}", label, kept, ids.len(), floor);
        }
        for s in &sets {
            let never = pins.contains(&s.backup_id)
                || running == Some(s.backup_id)
                || matches!(s.verdict, Verdict::InProgress | Verdict::Unknown);
            prop_assert!(!(never && gone.contains(&s.backup_id)), "protected {} deleted", s.backup_id);
        }
        for d in &p.decisions {
            prop_assert!(!(d.orphan && d.decision == Decision::Delete), "orphan {} deleted by a rule", d.backup_id);
        }
    }

    /// With no policy, nothing is planned, whatever the history.
    #[test]
    fn prop_no_policy_plans_nothing(sets in histories()) {
        prop_assert!(plan_unconfigured(&sets, &Protections::default(), NOW).to_delete().is_empty());
    }

    /// A component whose listing answered `[]` (every expected set missing it) always makes an
    /// unattended cleanup refuse, whatever else the history holds.
    #[test]
    fn prop_an_empty_component_always_refuses(
        sets in histories(),
        policy in policies(),
        which in 0usize..5,
    ) {
        let component = ALL[which];
        let emptied: Vec<BackupSet> = sets
            .into_iter()
            .filter_map(|s| {
                let mut components = s.components.clone();
                for c in &mut components {
                    if c.component == component && c.state != ComponentState::NotExpected {
                        *c = ComponentBackup::new(component, ComponentState::Missing);
                    }
                }
                let kept = components.iter().any(|c| c.holds());
                let has_expected = components.iter().any(|c| c.component == component && c.state == ComponentState::Missing);
                (kept && has_expected).then(|| build_set(s.backup_id, components))
            })
            .collect();
        prop_assume!(!emptied.is_empty());
        let p = plan(&emptied, &policy, &Protections::default(), NOW);
        prop_assert!(unattended_refusal(&emptied, &p).is_some());
    }
}
