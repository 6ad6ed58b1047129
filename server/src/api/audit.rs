//! The audit log: written by every mutating action, read by admins and automation.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use backup_domain::api::{AuditEntry, AuditResponse};
use backup_domain::audit::AuditAction;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::store::AuditFilter;

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
    // Read open: a row written by a newer version keeps an action this one does not know.
    let action = blank(q.action).map(|a| AuditAction::from(a.trim()));
    let typo = action.as_ref().filter(|a| !a.is_known()).cloned();
    let filter = AuditFilter {
        user: blank(q.user),
        action,
        cluster: blank(q.cluster),
        from_ms: q.from,
        to_ms: q.to,
        limit: q.limit.unwrap_or(1_000).clamp(1, 100_000),
    };
    let entries = state.store.audit(filter).await?;
    // An action nobody knows and the log does not hold is a typo, not an empty log.
    if let Some(typo) = typo
        && entries.is_empty()
    {
        let known: Vec<&str> = AuditAction::KNOWN.iter().map(AuditAction::as_str).collect();
        return Err(ApiError::BadRequest(format!(
            "`{typo}` is not a known audit action and the log holds none; the log records {}",
            known.join(", ")
        )));
    }
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
            e.action.to_string(),
            e.cluster.clone().unwrap_or_default(),
            e.target.clone().unwrap_or_default(),
            e.outcome.to_string(),
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
            action: AuditAction::LoginFailed,
            cluster: None,
            target: None,
            outcome: backup_domain::audit::AuditOutcome::Failure,
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
