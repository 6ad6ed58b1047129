//! The paged history: `GET /api/clusters/{name}/backups?page=&per_page=&verdict=&q=&sort=`.
//! Without any of them the answer is the whole history, as before.

use backup_console_testkit::*;
use backup_domain::api::{ErrorCode, VersionProfile};
use serde_json::Value;

fn ids(answer: &Value) -> Vec<u64> {
    answer["sets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["backup_id"].as_u64())
        .collect()
}

#[tokio::test]
async fn a_page_is_the_matching_slice_of_the_whole_history() {
    let sim = start_sim(VersionProfile::V88, 40).await;
    let console = console_for(&sim).await;
    let (status, all) = console.fresh_get("/api/clusters/test/backups").await;
    assert_eq!(status, 200);
    assert!(
        all.get("total").is_none(),
        "the whole history has no paging fields"
    );
    let every = ids(&all);
    assert!(every.len() > 30);

    let (status, page) = console
        .get("/api/clusters/test/backups?page=2&per_page=10")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), every[10..20].to_vec());
    assert_eq!(
        (&page["total"], &page["page"], &page["per_page"]),
        (&Value::from(every.len()), &Value::from(2), &Value::from(10))
    );
    assert_eq!(page["pages"], Value::from(every.len().div_ceil(10)));
    // The figures stay those of the whole history.
    assert_eq!(page["counts"], all["counts"]);
    assert_eq!(page["highest_backup_id"], all["highest_backup_id"]);

    let (_, oldest) = console
        .get("/api/clusters/test/backups?per_page=5&sort=oldest")
        .await;
    let reversed: Vec<u64> = every.iter().rev().take(5).copied().collect();
    assert_eq!(ids(&oldest), reversed);

    // A verdict and a search narrow `total` the way the UI's own filter does.
    let verdict = all["sets"][0]["verdict"].as_str().unwrap().to_string();
    let with_verdict = all["sets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["verdict"] == verdict.as_str())
        .count();
    let (_, filtered) = console
        .get(&format!(
            "/api/clusters/test/backups?verdict={verdict}&per_page=500"
        ))
        .await;
    assert_eq!(filtered["total"], Value::from(with_verdict), "{filtered}");
    assert!(
        filtered["sets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["verdict"] == verdict.as_str())
    );
    let needle = every[3].to_string();
    let needle = &needle[needle.len() - 4..];
    let (_, searched) = console
        .get(&format!("/api/clusters/test/backups?q={needle}"))
        .await;
    let expected: Vec<u64> = every
        .iter()
        .filter(|id| id.to_string().contains(needle))
        .copied()
        .collect();
    assert_eq!(
        ids(&searched),
        expected.into_iter().take(25).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn bad_paging_is_refused_with_the_envelope() {
    let sim = start_sim(VersionProfile::V88, 3).await;
    let console = console_for(&sim).await;
    for query in [
        "per_page=0",
        "per_page=501",
        "page=0",
        "page=x",
        "verdict=splendid",
        "sort=sideways",
        "pgae=2",
    ] {
        let (status, body) = console
            .get(&format!("/api/clusters/test/backups?{query}"))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(ErrorCode::BadRequest.as_str())),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn an_unchanged_page_answers_304_to_its_etag() {
    let sim = start_sim(VersionProfile::V88, 12).await;
    let console = console_for(&sim).await;
    let url = format!("{}/api/clusters/test/backups?per_page=5", console.base);
    let get = |etag: Option<String>| {
        let mut request = console
            .http
            .get(&url)
            .header("cookie", &console.session.cookie);
        if let Some(tag) = etag {
            request = request.header("if-none-match", tag);
        }
        request.send()
    };
    let first = get(None).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(first.headers()["cache-control"], "private, no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = get(Some(etag.clone())).await.unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    // A new set changes the page, and with it the tag.
    take_backup(&sim, u64::from(u32::MAX), &["optimize"]).await;
    settle().await;
    // Not before the catalog is listed again.
    let stale = get(Some(etag.clone())).await.unwrap();
    assert_eq!(stale.status().as_u16(), 304);
    console
        .fresh_get("/api/clusters/test/backups?per_page=1")
        .await;
    let changed = get(Some(etag.clone())).await.unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}
