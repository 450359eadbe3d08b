//! The `operations` table: every long action, persisted so it survives a daemon restart.

use berth_types::{Operation, OperationStatus};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use uuid::Uuid;

use crate::{Store, StoreError};

/// An operation plus the parameters it was started with (JSON), which recovery needs to undo
/// what an interrupted operation half-made.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationRecord {
    pub operation: Operation,
    pub params: serde_json::Value,
}

const COLUMNS: &str = "id, kind, target, status, progress, message, steps, error, owner, params, created_at, updated_at";

fn corrupt(column: &'static str, value: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        column,
        value: value.into(),
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<OperationRecord, StoreError>> {
    let id: String = row.get(0)?;
    let kind: String = row.get(1)?;
    let target: String = row.get(2)?;
    let status: String = row.get(3)?;
    let progress: u8 = row.get(4)?;
    let message: String = row.get(5)?;
    let steps: String = row.get(6)?;
    let error: Option<String> = row.get(7)?;
    let owner: String = row.get(8)?;
    let params: String = row.get(9)?;
    let created_at: DateTime<Utc> = row.get(10)?;
    let updated_at: DateTime<Utc> = row.get(11)?;
    Ok((|| {
        let status =
            OperationStatus::parse(&status).ok_or_else(|| corrupt("operations.status", &status))?;
        Ok(OperationRecord {
            operation: Operation {
                id: Uuid::parse_str(&id).map_err(|_| corrupt("operations.id", &id))?,
                kind: serde_json::from_value(serde_json::Value::String(kind.clone()))
                    .map_err(|_| corrupt("operations.kind", &kind))?,
                target,
                status,
                progress,
                message,
                steps: serde_json::from_str(&steps).map_err(|source| StoreError::Json {
                    column: "operations.steps",
                    source,
                })?,
                error,
                cancellable: false,
                owner,
                created_at,
                updated_at,
            },
            params: serde_json::from_str(&params).map_err(|source| StoreError::Json {
                column: "operations.params",
                source,
            })?,
        })
    })())
}

impl Store {
    /// Inserts or replaces the operation's row.
    pub fn save_operation(&self, record: &OperationRecord) -> Result<(), StoreError> {
        let op = &record.operation;
        let steps = serde_json::to_string(&op.steps).map_err(|source| StoreError::Json {
            column: "operations.steps",
            source,
        })?;
        self.conn().execute(
            &format!(
                "INSERT OR REPLACE INTO operations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ),
            params![
                op.id.to_string(),
                op.kind.as_str(),
                op.target,
                op.status.as_str(),
                op.progress,
                op.message,
                steps,
                op.error,
                op.owner,
                record.params.to_string(),
                op.created_at,
                op.updated_at,
            ],
        )?;
        Ok(())
    }

    pub fn get_operation(&self, id: Uuid) -> Result<Option<OperationRecord>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM operations WHERE id = ?1"),
                [id.to_string()],
                from_row,
            )
            .optional()?;
        row.transpose()
    }

    /// The newest `limit` operations, newest first.
    pub fn list_operations(&self, limit: usize) -> Result<Vec<OperationRecord>, StoreError> {
        self.query_operations(&format!(
            "SELECT {COLUMNS} FROM operations ORDER BY created_at DESC LIMIT {limit}"
        ))
    }

    /// Operations that were pending or running when the daemon last stopped.
    pub fn unfinished_operations(&self) -> Result<Vec<OperationRecord>, StoreError> {
        self.query_operations(&format!(
            "SELECT {COLUMNS} FROM operations WHERE status IN ('pending', 'running') ORDER BY created_at"
        ))
    }

    /// Deletes ended operations last updated before `before`; returns how many.
    pub fn prune_operations(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "DELETE FROM operations WHERE status IN ('success', 'failure', 'cancelled') AND updated_at < ?1",
            [before],
        )?)
    }

    fn query_operations(&self, sql: &str) -> Result<Vec<OperationRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use berth_types::{OperationKind, OperationStep, StepStatus};

    use super::*;

    #[test]
    fn unfinished_operations_are_found_again() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let now = Utc::now();
        let mut record = OperationRecord {
            operation: Operation {
                id: Uuid::new_v4(),
                kind: OperationKind::InstanceCreate,
                target: "web1".into(),
                status: OperationStatus::Running,
                progress: 40,
                message: "cloning".into(),
                steps: vec![OperationStep {
                    name: "clone".into(),
                    status: StepStatus::Running,
                    message: "cloning".into(),
                    started_at: Some(now),
                    finished_at: None,
                }],
                error: None,
                cancellable: false,
                owner: "admin".into(),
                created_at: now,
                updated_at: now,
            },
            params: serde_json::json!({"name": "web1"}),
        };
        store.save_operation(&record)?;
        let found = store.unfinished_operations()?;
        assert_eq!(found, vec![record.clone()]);
        record.operation.status = OperationStatus::Failure;
        store.save_operation(&record)?;
        assert!(store.unfinished_operations()?.is_empty());
        assert_eq!(
            store.get_operation(record.operation.id)?,
            Some(record.clone())
        );
        assert_eq!(store.prune_operations(now)?, 0, "newer than the cut-off");
        assert_eq!(
            store.prune_operations(Utc::now() + chrono::Duration::seconds(1))?,
            1
        );
        assert_eq!(store.get_operation(record.operation.id)?, None);
        Ok(())
    }
}
