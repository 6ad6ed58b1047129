//! The backups table's filter, search and paging: pure, so that the UI stays fast with thousands of
//! sets (it renders one page) and the rules are tested without a browser.

use crate::backup_set::{BackupSet, Verdict};

pub const PAGE_SIZE: usize = 25;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub verdict: Option<Verdict>,
    /// Digits to look for in the backup ID; anything else in it is ignored.
    pub search: String,
    /// 1-based.
    pub page: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<'a> {
    pub rows: Vec<&'a BackupSet>,
    /// Sets matching the filter, over all pages.
    pub matching: usize,
    /// The page actually shown (clamped to the last one).
    pub page: usize,
    pub pages: usize,
}

/// The most rows one page of the history API carries.
pub const MAX_PER_PAGE: usize = 500;

/// Which way a page runs: the listing is newest first, as Zeebe hands out rising IDs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    Newest,
    Oldest,
}

/// One page of the backups table as the UI shows it: [`PAGE_SIZE`] rows, newest first.
pub fn list_page<'a>(sets: &'a [BackupSet], query: &ListQuery) -> ListPage<'a> {
    page_of(sets, query, PAGE_SIZE, Order::Newest)
}

/// One page of `per_page` rows (at least 1) of the sets matching `query`, in `order`; `sets` is
/// newest first. The page is clamped to the last one.
pub fn page_of<'a>(
    sets: &'a [BackupSet],
    query: &ListQuery,
    per_page: usize,
    order: Order,
) -> ListPage<'a> {
    let per_page = per_page.max(1);
    let needle: String = query.search.chars().filter(char::is_ascii_digit).collect();
    let matches = |set: &&BackupSet| {
        query.verdict.is_none_or(|v| set.verdict == v)
            && (needle.is_empty() || set.backup_id.to_string().contains(&needle))
    };
    let matching = sets.iter().filter(matches).count();
    let pages = matching.div_ceil(per_page).max(1);
    let page = query.page.clamp(1, pages);
    let ordered: Box<dyn Iterator<Item = &'a BackupSet>> = match order {
        Order::Newest => Box::new(sets.iter()),
        Order::Oldest => Box::new(sets.iter().rev()),
    };
    let rows = ordered
        .filter(matches)
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    ListPage {
        rows,
        matching,
        page,
        pages,
    }
}

/// "3 d 4 h", "12 min", "40 s": an age an administrator reads at a glance.
pub fn format_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// "0.4 s", "12.3 s", "2 min 05 s", "1 h 02 min": a step's or a pause's duration, precise where a
/// tenth of a second matters (the soft-pause window) and short where it does not.
pub fn format_elapsed(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match s {
        0..60 => format!("{}.{} s", s, (ms % 1000) / 100),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// (year, month 1-12, day 1-31) of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2026-11-23 01:14 UTC` from epoch milliseconds: one unambiguous zone for every administrator
/// of a cluster, whatever their browser's.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3_600,
        (rem % 3_600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup_set::build_set;

    fn sets(n: u64) -> Vec<BackupSet> {
        (1..=n)
            .rev()
            .map(|id| {
                let mut set = build_set(id, Vec::new());
                if id % 3 == 0 {
                    set.verdict = Verdict::NotRestorable;
                }
                set
            })
            .collect()
    }

    #[test]
    fn pages_hold_page_size_rows_in_order() {
        let all = sets(60);
        let page = list_page(
            &all,
            &ListQuery {
                page: 2,
                ..Default::default()
            },
        );
        assert_eq!(page.matching, 60);
        assert_eq!(page.pages, 3);
        assert_eq!(page.rows.len(), PAGE_SIZE);
        assert_eq!(page.rows[0].backup_id, 35);
        let last = list_page(
            &all,
            &ListQuery {
                page: 99,
                ..Default::default()
            },
        );
        assert_eq!(last.page, 3);
        assert_eq!(last.rows.len(), 10);
    }

    #[test]
    fn filter_and_search_combine() {
        let all = sets(60);
        let q = ListQuery {
            verdict: Some(Verdict::NotRestorable),
            search: "1".into(),
            page: 1,
        };
        let page = list_page(&all, &q);
        let ids: Vec<u64> = page.rows.iter().map(|s| s.backup_id).collect();
        assert_eq!(ids, vec![51, 21, 18, 15, 12]);
        assert_eq!(page.matching, 5);
        // Non-digits in the search box are ignored rather than matching nothing.
        let q = ListQuery {
            search: " #45 ".into(),
            page: 1,
            ..Default::default()
        };
        assert_eq!(
            list_page(&all, &q)
                .rows
                .iter()
                .map(|s| s.backup_id)
                .collect::<Vec<_>>(),
            vec![45]
        );
    }

    #[test]
    fn pages_of_any_size_run_either_way() {
        let all = sets(30);
        let q = ListQuery {
            page: 2,
            ..ListQuery::default()
        };
        let newest = page_of(&all, &q, 7, Order::Newest);
        let ids: Vec<u64> = newest.rows.iter().map(|s| s.backup_id).collect();
        let expected: Vec<u64> = all[7..14].iter().map(|s| s.backup_id).collect();
        assert_eq!((ids, newest.pages, newest.matching), (expected, 5, 30));
        let oldest = page_of(&all, &q, 7, Order::Oldest);
        let ids: Vec<u64> = oldest.rows.iter().map(|s| s.backup_id).collect();
        let expected: Vec<u64> = all
            .iter()
            .rev()
            .skip(7)
            .take(7)
            .map(|s| s.backup_id)
            .collect();
        assert_eq!(ids, expected);
        // Past the end: the last page, which holds the remainder.
        let last = page_of(&all, &ListQuery { page: 99, ..q }, 7, Order::Newest);
        assert_eq!((last.page, last.rows.len()), (5, 2));
    }

    #[test]
    fn an_empty_result_still_has_one_page() {
        let all = sets(5);
        let page = list_page(
            &all,
            &ListQuery {
                search: "999".into(),
                page: 0,
                ..Default::default()
            },
        );
        assert_eq!((page.matching, page.pages, page.page), (0, 1, 1));
        assert!(page.rows.is_empty());
    }

    #[test]
    fn utc_times_format_across_leap_years_and_epochs() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_748_937_310_633), "2025-06-03 07:55 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_397_700_000), "2026-11-23 01:35 UTC");
        assert_eq!(format_utc(-60_000), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age(40), "40 s");
        assert_eq!(format_age(12 * 60 + 5), "12 min");
        assert_eq!(format_age(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(format_age(2 * 86_400 + 5 * 3600), "2 d 5 h");
        assert_eq!(format_age(-5), "0 s");
    }

    #[test]
    fn elapsed_times_keep_tenths_under_a_minute_only() {
        assert_eq!(format_elapsed(-5), "0.0 s");
        assert_eq!(format_elapsed(420), "0.4 s");
        assert_eq!(format_elapsed(12_345), "12.3 s");
        assert_eq!(format_elapsed(59_999), "59.9 s");
        assert_eq!(format_elapsed(125_000), "2 min 05 s");
        assert_eq!(format_elapsed(3_720_000), "1 h 02 min");
    }
}
