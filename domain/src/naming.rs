//! Snapshot names as Camunda writes them (contract §5.1, §5.2, §6, §7.1).

/// `camunda_zeebe_records_backup_{id}`, the snapshot of `zeebe-record*` taken while exporting is
/// soft-paused (§8.1 step 3.2).
pub const RECORDS_SNAPSHOT_PREFIX: &str = "camunda_zeebe_records_backup_";

pub fn records_snapshot_name(backup_id: u64) -> String {
    format!("{RECORDS_SNAPSHOT_PREFIX}{backup_id}")
}

/// The backup ID of a records snapshot, or `None` for any other name. Only the exact name
/// [`records_snapshot_name`] writes counts: a leading zero (`_042`) names another snapshot, which
/// the console would neither find nor delete under ID 42.
pub fn parse_records_snapshot(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(RECORDS_SNAPSHOT_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// The parts of `{prefix}{id}_{version}_part_{n}_of_{m}` (e.g. `camunda_operate_1748937221_8.7.2_part_1_of_6`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartName<'a> {
    pub backup_id: u64,
    pub version: &'a str,
    pub part: u32,
    pub of: u32,
}

pub fn parse_part_name<'a>(prefix: &str, name: &'a str) -> Option<PartName<'a>> {
    let rest = name.strip_prefix(prefix)?;
    let (id, rest) = rest.split_once('_')?;
    let (version, counts) = rest.rsplit_once("_part_")?;
    let (part, of) = counts.split_once("_of_")?;
    Some(PartName {
        backup_id: id.parse().ok()?,
        version,
        part: part.parse().ok()?,
        of: of.parse().ok()?,
    })
}

pub fn part_name(prefix: &str, backup_id: u64, version: &str, part: u32, of: u32) -> String {
    format!(
        "{prefix}{backup_id}_{}_part_{part}_of_{of}",
        version.to_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip() {
        let name = part_name("camunda_operate_", 1748937221, "8.7.2", 1, 6);
        assert_eq!(name, "camunda_operate_1748937221_8.7.2_part_1_of_6");
        assert_eq!(
            parse_part_name("camunda_operate_", &name),
            Some(PartName {
                backup_id: 1748937221,
                version: "8.7.2",
                part: 1,
                of: 6
            })
        );
        // Versions may carry their own underscores or suffixes, and are lower case (§5.1).
        let odd = "camunda_webapps_7_8.1.0-snapshot_part_2_of_5";
        assert_eq!(
            parse_part_name("camunda_webapps_", odd).unwrap().version,
            "8.1.0-snapshot"
        );
        assert_eq!(parse_part_name("camunda_tasklist_", &name), None);
        assert_eq!(
            parse_part_name("camunda_operate_", "camunda_operate_x_8_part_1_of_2"),
            None
        );
    }

    #[test]
    fn records_snapshot_names() {
        assert_eq!(records_snapshot_name(42), "camunda_zeebe_records_backup_42");
        assert_eq!(
            parse_records_snapshot("camunda_zeebe_records_backup_42"),
            Some(42)
        );
        assert_eq!(
            parse_records_snapshot("camunda_zeebe_records_backup_"),
            None
        );
        assert_eq!(
            parse_records_snapshot("camunda_zeebe_records_backup_4x"),
            None
        );
        assert_eq!(
            parse_records_snapshot("camunda_operate_42_8.7.2_part_1_of_6"),
            None
        );
        // Only the name the console writes maps to an ID: `_042` is not backup 42's snapshot,
        // and deleting "42's" snapshot would not remove it (review L3).
        assert_eq!(
            parse_records_snapshot("camunda_zeebe_records_backup_042"),
            None
        );
        assert_eq!(
            parse_records_snapshot("camunda_zeebe_records_backup_0"),
            Some(0)
        );
        assert_eq!(
            parse_records_snapshot("camunda_zeebe_records_backup_+42"),
            None
        );
    }
}
