//! A component's listing held small. A listing of 100,000 backups as [`ComponentBackup`]s is
//! some 280 bytes an entry, 140 MB for five components; here an entry is a few dozen bytes, its
//! repeated texts (state codes, version lists) stored once per listing. The thin form of an
//! entry (no per-part or per-partition lists) goes in and comes out unchanged.

use std::collections::HashMap;

use crate::backup_set::{Component, ComponentBackup, ComponentState, Progress};

/// No text: the index stands for `None`.
const NONE: u32 = u32::MAX;

/// Joins a version list into one text; no version string contains it (ASCII unit separator).
const SEPARATOR: char = '\u{1f}';

/// The texts of one listing, each stored once.
#[derive(Debug, Default, Clone)]
struct Texts {
    all: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Texts {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = self.all.len() as u32;
        self.all.push(text.into());
        self.index.insert(text.into(), i);
        i
    }

    fn get(&self, i: u32) -> Option<&str> {
        (i != NONE).then(|| self.all.get(i as usize).map(AsRef::as_ref))?
    }
}

/// One entry: what the thin [`ComponentBackup`] says, with its texts as indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    backup_id: u64,
    started_at_ms: Option<i64>,
    progress: Option<Progress>,
    /// Rare and unique: kept as they are.
    failure_reason: Option<Box<str>>,
    error: Option<Box<str>>,
    upstream_state: u32,
    /// The version list, joined by [`SEPARATOR`], as one text.
    versions: u32,
    component: Component,
    state: ComponentState,
}

/// The entries of one component's listing, in the order they were listed.
#[derive(Debug, Default, Clone)]
pub struct CompactListing {
    entries: Vec<Entry>,
    texts: Texts,
}

impl CompactListing {
    pub fn new() -> Self {
        CompactListing::default()
    }

    /// Adds one entry; its per-part and per-partition lists are dropped (the thin form).
    pub fn push(&mut self, backup_id: u64, c: ComponentBackup) {
        let upstream_state = match &c.upstream_state {
            Some(s) => self.texts.intern(s),
            None => NONE,
        };
        let versions = if c.versions.is_empty() {
            NONE
        } else {
            self.texts.intern(&c.versions.join(&SEPARATOR.to_string()))
        };
        self.entries.push(Entry {
            backup_id,
            started_at_ms: c.started_at_ms,
            progress: c.progress,
            failure_reason: c.failure_reason.map(String::into_boxed_str),
            error: c.error.map(String::into_boxed_str),
            upstream_state,
            versions,
            component: c.component,
            state: c.state,
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The backup IDs listed, in listing order (repeats included).
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.iter().map(|e| e.backup_id)
    }

    /// Orders the entries by backup ID, highest first; entries under one ID keep their order.
    pub fn sort_newest_first(&mut self) {
        self.entries.sort_by_key(|e| std::cmp::Reverse(e.backup_id));
    }

    /// The `i`-th entry's ID.
    pub(crate) fn id_at(&self, i: usize) -> Option<u64> {
        self.entries.get(i).map(|e| e.backup_id)
    }

    /// The `i`-th entry as the component's reading, thin.
    pub(crate) fn backup_at(&self, i: usize) -> Option<ComponentBackup> {
        let e = self.entries.get(i)?;
        let mut c = ComponentBackup::new(e.component, e.state);
        c.upstream_state = self.texts.get(e.upstream_state).map(str::to_string);
        c.failure_reason = e.failure_reason.as_deref().map(str::to_string);
        c.started_at_ms = e.started_at_ms;
        c.versions = self
            .texts
            .get(e.versions)
            .map(|v| v.split(SEPARATOR).map(str::to_string).collect())
            .unwrap_or_default();
        c.progress = e.progress;
        c.error = e.error.as_deref().map(str::to_string);
        Some(c)
    }

    /// Every entry back as `(ID, reading)`, in the current order.
    pub fn expand(&self) -> Vec<(u64, ComponentBackup)> {
        (0..self.entries.len())
            .filter_map(|i| Some((self.id_at(i)?, self.backup_at(i)?)))
            .collect()
    }
}

impl FromIterator<(u64, ComponentBackup)> for CompactListing {
    fn from_iter<I: IntoIterator<Item = (u64, ComponentBackup)>>(iter: I) -> Self {
        let mut listing = CompactListing::new();
        for (id, c) in iter {
            listing.push(id, c);
        }
        listing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reading() -> impl Strategy<Value = ComponentBackup> {
        (
            prop_oneof![
                Just(ComponentState::Completed),
                Just(ComponentState::Failed),
                Just(ComponentState::InProgress),
                Just(ComponentState::Incomplete),
                Just(ComponentState::Unknown),
            ],
            proptest::option::of("[A-Z_]{0,12}"),
            proptest::option::of(".{0,30}"),
            proptest::option::of(0i64..2_000_000_000_000),
            proptest::collection::vec("[^\u{1f}]{0,6}", 0..3),
            proptest::option::of((0u32..10, 0u32..10)),
            proptest::option::of(".{0,20}"),
        )
            .prop_map(|(state, up, failure, started, versions, progress, error)| {
                let mut c = ComponentBackup::new(Component::Operate, state);
                c.upstream_state = up;
                c.failure_reason = failure;
                c.started_at_ms = started;
                c.versions = versions;
                c.progress = progress.map(|(done, total)| Progress { done, total });
                c.error = error;
                c
            })
    }

    proptest! {
        /// Whatever goes in comes out: the compact form loses nothing of the thin one.
        #[test]
        fn a_thin_reading_comes_back_unchanged(
            entries in proptest::collection::vec((0u64..50, reading()), 0..40)
        ) {
            let listing: CompactListing = entries.iter().cloned().collect();
            let back = listing.expand();
            let expected = entries;
            prop_assert_eq!(back, expected);
        }
    }

    #[test]
    fn sorting_keeps_repeats_of_an_id_in_listing_order() {
        let mut listing = CompactListing::new();
        for (id, state) in [
            (3, ComponentState::Completed),
            (9, ComponentState::Failed),
            (3, ComponentState::Failed),
        ] {
            listing.push(id, ComponentBackup::new(Component::Zeebe, state));
        }
        listing.sort_newest_first();
        let states: Vec<_> = listing
            .expand()
            .into_iter()
            .map(|(id, c)| (id, c.state))
            .collect();
        assert_eq!(
            states,
            vec![
                (9, ComponentState::Failed),
                (3, ComponentState::Completed),
                (3, ComponentState::Failed)
            ]
        );
    }
}
