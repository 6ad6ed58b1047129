//! The audit log: written by every mutating action, read by admins and automation.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use backup_domain::api::{AuditEntry, AuditResponse};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::store::{AuditFilter, AuditRecord};

/// Appends one line. A failure to write is logged loudly; the action itself already happened.
#[expect(
    clippy::too_many_arguments,
    reason = "one audit row's fields, named at every call"
)]
pub async fn record(
    state: &AppState,
    user: &str,
    client: &str,
    action: &str,
    cluster: Option<String>,
    target: Option<String>,
    outcome: &str,
    detail: Option<String>,
) {
    let entry = AuditRecord {
        at_ms: chrono::Utc::now().timestamp_millis(),
        user: user.chars().take(200).collect(),
        client: client.to_string(),
        action: action.to_string(),
        cluster,
        target,
        outcome: outcome.to_string(),
        detail,
    };
    if let Err(error) = state.auth.store.append_audit(entry).await {
        tracing::error!(%error, action, "could not write the audit log");
    }
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    user: Option<String>,
    action: Option<String>,
    cluster: Option<String>,
    /// Epoch milliseconds, inclusive.
    from: Option<i64>,
    to: Option<i64>,
    limit: Option<usize>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// `GET /api/audit?user=&action=&cluster=&from=&to=&limit=&format=json|csv`, newest first.
pub async fn list(
    State(state): State<AppState>,
    super::extract::ApiQuery(q): super::extract::ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let filter = AuditFilter {
        user: blank(q.user),
        action: blank(q.action),
        cluster: blank(q.cluster),
        from_ms: q.from,
        to_ms: q.to,
        limit: q.limit.unwrap_or(1_000).clamp(1, 100_000),
    };
    let entries = state.auth.store.audit(filter).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(AuditResponse { entries }).into_response()),
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audit.csv\"",
                ),
            ],
            to_csv(&entries),
        )
            .into_response()),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format `{other}`: use json or csv"
        ))),
    }
}

fn csv_field(value: &str) -> String {
    // Quote always; double inner quotes; neutralise spreadsheet formulas.
    // OWASP's list: a leading tab or carriage return also starts a formula in some spreadsheets.
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r', '|']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

pub fn to_csv(entries: &[AuditEntry]) -> String {
    let mut out =
        String::from("id,time_utc,at_ms,user,client,action,cluster,target,outcome,detail\n");
    for e in entries {
        let time = chrono::DateTime::from_timestamp_millis(e.at_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let fields = [
            e.id.to_string(),
            time,
            e.at_ms.to_string(),
            e.user.clone(),
            e.client.clone(),
            e.action.clone(),
            e.cluster.clone().unwrap_or_default(),
            e.target.clone().unwrap_or_default(),
            e.outcome.clone(),
            e.detail.clone().unwrap_or_default(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review L5: a spreadsheet also starts a formula after a leading tab or carriage return.
    #[test]
    fn csv_defuses_formulas_behind_tab_and_carriage_return() {
        for user in ["\t=1+1", "\r=1+1", "\t", "|cmd"] {
            let field = csv_field(user);
            assert!(field.starts_with("\"'"), "{user:?} gave {field:?}");
        }
        assert_eq!(csv_field("alice"), "\"alice\"");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let e = AuditEntry {
            id: 1,
            at_ms: 0,
            user: "=cmd()".into(),
            client: "127.0.0.1".into(),
            action: "login_failed".into(),
            cluster: None,
            target: None,
            outcome: "failure".into(),
            detail: Some("say \"hi\", ok".into()),
        };
        let csv = to_csv(&[e]);
        let line = csv.lines().nth(1).unwrap();
        assert!(
            line.starts_with("\"1\",\"1970-01-01T00:00:00+00:00\",\"0\",\"'=cmd()\""),
            "{line}"
        );
        assert!(
            line.ends_with("\"failure\",\"say \"\"hi\"\", ok\""),
            "{line}"
        );
    }
}
