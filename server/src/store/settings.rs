//! Small values kept across restarts: the proxy secret, credential digests, claims that one of
//! several processes sharing the database wins.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

impl Store {
    /// A value kept across restarts, created by `init` the first time it is asked for.
    pub async fn setting(&self, key: &'static str, init: String) -> Result<String, StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
                params![key, init],
            )?;
            c.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
        })
        .await
    }

    pub async fn get_setting(&self, key: String) -> Result<Option<String>, StoreError> {
        self.call(move |c| {
            c.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    pub async fn put_setting(&self, key: String, value: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
        })
        .await
    }

    /// Sets `key` to `value` only if it still holds `expected` (`None`: absent), in one statement,
    /// so that one of several processes wins; the answer says whether this one did.
    pub async fn claim_setting(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            let changed = match expected {
                Some(old) => c.execute(
                    "UPDATE settings SET value = ?3 WHERE key = ?1 AND value = ?2",
                    params![key, old, value],
                )?,
                None => c.execute(
                    "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
                    params![key, value],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }

    pub async fn delete_setting(&self, key: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute("DELETE FROM settings WHERE key = ?1", params![key])
                .map(|_| ())
        })
        .await
    }
}
