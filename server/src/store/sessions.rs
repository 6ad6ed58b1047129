//! Login sessions, stored so they survive a restart; only the hash of a session token is kept.

use backup_domain::api::Role;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
}

impl Store {
    pub async fn create_session(
        &self,
        token_hash: String,
        user: String,
        role: Role,
        csrf: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user, role, csrf_token, created_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![token_hash, user, role.label(), csrf, now_ms],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn session(&self, token_hash: String) -> Result<Option<SessionRow>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT user, role, csrf_token, created_ms, last_seen_ms FROM sessions WHERE token_hash = ?1",
                params![token_hash],
                |r| {
                    let role: String = r.get(1)?;
                    Ok(SessionRow {
                        user: r.get(0)?,
                        // A role no longer known falls to the weakest one.
                        role: Role::parse(&role).unwrap_or(Role::Viewer),
                        csrf_token: r.get(2)?,
                        created_ms: r.get(3)?,
                        last_seen_ms: r.get(4)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    pub async fn touch_session(&self, token_hash: String, now_ms: i64) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE sessions SET last_seen_ms = ?2 WHERE token_hash = ?1",
                params![token_hash, now_ms],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                params![token_hash],
            )
            .map(|_| ())
        })
        .await
    }

    /// Ends every session of `user`; returns how many.
    pub async fn delete_sessions_of(&self, user: String) -> Result<usize, StoreError> {
        self.call(move |c| c.execute("DELETE FROM sessions WHERE user = ?1", params![user]))
            .await
    }

    /// Drops sessions past either timeout; returns how many.
    pub async fn purge_sessions(
        &self,
        now_ms: i64,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> Result<usize, StoreError> {
        self.call(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE last_seen_ms < ?1 OR created_ms < ?2",
                params![now_ms - idle_ms, now_ms - absolute_ms],
            )
        })
        .await
    }
}
