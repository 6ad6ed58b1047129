//! Joining every component's listing into backup sets, one per ID: the history's merge. It walks
//! compact listings ([`crate::compact`]), so a merge of 100,000 sets holds the listings and the
//! set being built, not every set.

use std::collections::HashMap;

use crate::backup_set::{
    BackupSet, Component, ComponentBackup, ComponentListing, ComponentState, build_set,
};
use crate::compact::CompactListing;

/// Joins the listings of every configured component into backup sets, newest ID first.
///
/// One pass over every listing into a hash map, then a sort of the distinct IDs: linear in the
/// number of artifacts apart from that sort. A component whose listing failed is `Unknown` in every
/// set, with its error; a component that answered but lacks an ID is `Missing` in that set.
pub fn merge_listings(listings: Vec<(Component, ComponentListing)>) -> Vec<BackupSet> {
    merge_listings_expecting(listings, &[])
}

/// [`merge_listings`] for a cluster where some components were added later: `(component, N)`
/// says sets with an ID below N are not expected to hold that component, so they read
/// [`ComponentState::NotExpected`] there instead of missing.
pub fn merge_listings_expecting(
    listings: Vec<(Component, ComponentListing)>,
    since: &[(Component, u64)],
) -> Vec<BackupSet> {
    let mut sets = Vec::new();
    merge_listings_each(listings, since, |set| sets.push(set));
    sets
}

/// [`merge_listings_expecting`] handing each set to `each`, newest first, as it is built.
pub fn merge_listings_each(
    listings: Vec<(Component, ComponentListing)>,
    since: &[(Component, u64)],
    each: impl FnMut(BackupSet),
) {
    let compact = listings
        .into_iter()
        .map(|(c, l)| (c, l.map(|entries| entries.into_iter().collect())))
        .collect();
    merge_compact_each(compact, since, each);
}

/// One component's listing held small, or why it could not be listed.
pub type CompactComponentListing = Result<CompactListing, String>;

/// The merge itself, over compact listings: each is sorted by ID, then walked together, one ID
/// at a time, so that only the listings and the set being built are held (a catalog refresh of
/// 100,000 sets writes them out as they come).
pub fn merge_compact_each(
    mut listings: Vec<(Component, CompactComponentListing)>,
    since: &[(Component, u64)],
    mut each: impl FnMut(BackupSet),
) {
    // A declaration the listing contradicts (the component holds an older ID) is not trusted:
    // the gap it would hide is shown instead.
    let mut since: Vec<(Component, u64)> = since.to_vec();
    since.retain(|&(component, first)| {
        !listings.iter().any(|(c, listing)| {
            *c == component
                && listing
                    .as_ref()
                    .is_ok_and(|entries| entries.ids().any(|id| id < first))
        })
    });
    let added_after = |component: Component, id: u64| {
        since.iter().any(|&(c, first)| c == component && id < first)
    };
    let configured: Vec<Component> = listings.iter().map(|(c, _)| *c).collect();
    let mut errors: HashMap<Component, String> = HashMap::new();
    let mut answered: Vec<CompactListing> = Vec::new();
    for (component, listing) in listings.drain(..) {
        match listing {
            Ok(mut entries) => {
                entries.sort_newest_first();
                answered.push(entries);
            }
            Err(error) => {
                errors.insert(component, error);
            }
        }
    }
    let mut cursors = vec![0usize; answered.len()];
    loop {
        let next = answered
            .iter()
            .zip(&cursors)
            .filter_map(|(l, &i)| l.id_at(i))
            .max();
        let Some(id) = next else { break };
        let mut found: Vec<ComponentBackup> = Vec::new();
        for (listing, cursor) in answered.iter().zip(cursors.iter_mut()) {
            while listing.id_at(*cursor) == Some(id) {
                if let Some(entry) = listing.backup_at(*cursor) {
                    absorb(&mut found, entry);
                }
                *cursor += 1;
            }
        }
        let components = configured
            .iter()
            .map(|&component| {
                if let Some(error) = errors.get(&component) {
                    let mut unknown = ComponentBackup::new(component, ComponentState::Unknown);
                    unknown.error = Some(error.clone());
                    return unknown;
                }
                match found.iter().position(|c| c.component == component) {
                    Some(i) => found.swap_remove(i),
                    None if added_after(component, id) => {
                        ComponentBackup::new(component, ComponentState::NotExpected)
                    }
                    None => ComponentBackup::new(component, ComponentState::Missing),
                }
            })
            .collect();
        each(build_set(id, components));
    }
}

/// Adds one listed entry to what was found under its ID. Listed twice: one reading, and a
/// cautious one when they disagree.
fn absorb(found: &mut Vec<ComponentBackup>, entry: ComponentBackup) {
    match found.iter_mut().find(|c| c.component == entry.component) {
        Some(earlier) if earlier.state != entry.state => {
            let error = format!(
                "listed twice under this ID, as {} and as {}",
                earlier.state.label(),
                entry.state.label()
            );
            *earlier = ComponentBackup::new(entry.component, ComponentState::Unknown);
            earlier.error = Some(error);
        }
        Some(_) => {}
        None => found.push(entry),
    }
}
