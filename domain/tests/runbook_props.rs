//! Runbook invariants over many sets: every snapshot name of the set appears in both renderings,
//! and a name the shell could misread never reaches a line the script runs.

mod runbook_fixtures;

use backup_domain::api::{ManagementApi, SecondaryStorage};
use backup_domain::backup_set::{self, PartitionBackup, SnapshotPart};
use backup_domain::runbook::{self, DeploymentFacts, RunbookFormat};
use backup_domain::{Component, ComponentBackup, ComponentState};
use proptest::prelude::*;

fn state() -> impl Strategy<Value = ComponentState> {
    prop_oneof![
        4 => Just(ComponentState::Completed),
        1 => Just(ComponentState::Failed),
        1 => Just(ComponentState::Incomplete),
        1 => Just(ComponentState::Unknown),
        1 => Just(ComponentState::Missing),
        1 => Just(ComponentState::InProgress),
    ]
}

/// Snapshot names as Camunda writes them, and now and then one with shell metacharacters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "camunda_(webapps|operate|tasklist|optimize)_[0-9]{1,10}_8\\.[7-9]\\.[0-9]{1,2}_part_[1-6]_of_[1-6]",
        1 => "camunda_webapps_1_8\\.8\\.[0-9]\\$\\(rm -rf x\\)'\"`;_part_1_of_2",
        1 => "rdbms-[0-9]{1,5}\\.(dump|sql)",
    ]
}

fn component() -> impl Strategy<Value = ComponentBackup> {
    (
        prop_oneof![
            Just(Component::Webapps),
            Just(Component::Operate),
            Just(Component::Tasklist),
            Just(Component::Optimize),
            Just(Component::RecordsSnapshot),
            Just(Component::RdbmsDump),
            Just(Component::WebModelerDump),
        ],
        state(),
        prop::collection::vec(name(), 0..4),
    )
        .prop_map(|(component, state, names)| {
            let mut c = ComponentBackup::new(component, state);
            c.parts = names
                .into_iter()
                .map(|name| SnapshotPart {
                    name,
                    state: "SUCCESS".into(),
                    ..SnapshotPart::default()
                })
                .collect();
            c
        })
}

fn zeebe() -> impl Strategy<Value = ComponentBackup> {
    (
        state(),
        prop::collection::vec("[0-9]{1,4}-[0-9]-[0-9]{1,5}-[0-9]{1,5}", 0..5),
    )
        .prop_map(|(state, snapshots)| {
            let mut z = ComponentBackup::new(Component::Zeebe, state);
            z.partitions = snapshots
                .into_iter()
                .enumerate()
                .map(|(i, s)| PartitionBackup {
                    partition_id: u32::try_from(i + 1).unwrap_or(1),
                    state: "COMPLETED".into(),
                    snapshot_id: Some(s),
                    broker_version: Some("8.8.1".into()),
                    ..PartitionBackup::default()
                })
                .collect();
            z
        })
}

fn plain(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

proptest! {
    #[test]
    fn every_snapshot_name_appears_in_both_renderings(
        zeebe in zeebe(),
        others in prop::collection::vec(component(), 0..5),
        profile in 0usize..4,
        known in any::<bool>(),
    ) {
        let mut components = vec![zeebe];
        for c in others {
            if components.iter().all(|k| k.component != c.component) {
                components.push(c);
            }
        }
        let set = backup_set::build_set(runbook_fixtures::ID, components);
        let (version, storage, api) = [
            ("8.7", SecondaryStorage::Elasticsearch, ManagementApi::Actuator),
            ("8.8", SecondaryStorage::Elasticsearch, ManagementApi::Actuator),
            ("8.10", SecondaryStorage::Elasticsearch, ManagementApi::Rest),
            ("8.9", SecondaryStorage::Rdbms, ManagementApi::Actuator),
        ][profile];
        let cluster = runbook_fixtures::cluster("c", version, storage, api, &set);
        let deployment = if known {
            runbook_fixtures::full_deployment("13.0.0")
        } else {
            DeploymentFacts::default()
        };
        let book = runbook::build(&set, &cluster, &deployment);
        let md = book.render(RunbookFormat::Markdown);
        let sh = book.render(RunbookFormat::Shell);
        for c in &set.components {
            let names = c
                .parts
                .iter()
                .map(|p| p.name.clone())
                .chain(c.partitions.iter().filter_map(|p| p.snapshot_id.clone()));
            for name in names {
                prop_assert!(md.contains(&name), "{name} missing from the Markdown");
                prop_assert!(sh.contains(&name), "{name} missing from the script");
                if !plain(&name) {
                    for line in sh.lines().filter(|l| l.contains(&name)) {
                        prop_assert!(line.starts_with('#'), "{name} reaches a command: {line}");
                    }
                }
            }
        }
        // Unknown facts are placeholders the script refuses to run with.
        if !known {
            prop_assert!(sh.contains("refuse 'fill in NAMESPACE"));
            prop_assert!(md.contains("<NAMESPACE>"));
        }
    }
}

#[test]
fn the_golden_sets_name_every_snapshot_in_both_renderings() {
    for (stem, set, cluster, deployment) in runbook_fixtures::profiles() {
        let book = runbook::build(&set, &cluster, &deployment);
        for format in [RunbookFormat::Markdown, RunbookFormat::Shell] {
            let text = book.render(format);
            for c in &set.components {
                for p in &c.parts {
                    assert!(text.contains(&p.name), "{stem}: {} missing", p.name);
                }
            }
        }
    }
}
