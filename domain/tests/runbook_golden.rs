//! The runbook of every profile, compared byte for byte with `tests/runbooks/`.
//! `UPDATE_GOLDEN=1 cargo test -p backup-domain --test runbook_golden` rewrites the files; read
//! the diff before committing it.

mod runbook_fixtures;

use std::path::PathBuf;

use backup_domain::runbook::{self, RunbookFormat};

#[test]
fn runbooks_match_their_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runbooks");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for (stem, set, cluster, deployment) in runbook_fixtures::profiles() {
        let book = runbook::build(&set, &cluster, &deployment);
        for format in [RunbookFormat::Markdown, RunbookFormat::Shell] {
            let path = dir.join(format!("{stem}.{}", format.extension()));
            let text = book.render(format);
            if update {
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_default();
            if golden != text {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "differ from the runbook built now (UPDATE_GOLDEN=1 rewrites them): {stale:?}"
    );
}
