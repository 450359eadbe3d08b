//! Schemas other crates keep in the store's database file under a version counter of their own
//! (a one-row table such as `auth_schema`), so their migrations never collide with the store's
//! `PRAGMA user_version` or with each other.

use rusqlite::{Connection, TransactionBehavior};

/// The version a counted schema is at (0 before its first migration).
pub fn counted_version(conn: &Connection, counter: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!("SELECT COALESCE(MAX(version), 0) FROM {counter}"),
        [],
        |row| row.get(0),
    )
}

/// Brings the schema counted in `counter` up to `migrations.len()` (migration N takes it from
/// version N-1 to N), in one IMMEDIATE transaction so two connections starting at once migrate
/// one after the other. `Ok(Err((found, known)))` when the database is newer than `migrations`.
pub fn apply_counted(
    conn: &mut Connection,
    counter: &str,
    migrations: &[&str],
) -> rusqlite::Result<Result<(), (i64, i64)>> {
    let known = migrations.len() as i64;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {counter} (version INTEGER NOT NULL)"
    ))?;
    let current = counted_version(&tx, counter)?;
    if current > known {
        return Ok(Err((current, known)));
    }
    for (index, sql) in migrations.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.execute(&format!("DELETE FROM {counter}"), [])?;
        tx.execute(
            &format!("INSERT INTO {counter} (version) VALUES (?1)"),
            [index as i64 + 1],
        )?;
    }
    tx.commit()?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_schemas_migrate_once_and_refuse_newer() -> rusqlite::Result<()> {
        let mut conn = Connection::open_in_memory()?;
        let v1 = ["CREATE TABLE a (x INTEGER)"];
        let v2 = [
            "CREATE TABLE a (x INTEGER)",
            "ALTER TABLE a ADD COLUMN y TEXT",
        ];
        assert_eq!(apply_counted(&mut conn, "a_schema", &v1)?, Ok(()));
        assert_eq!(apply_counted(&mut conn, "a_schema", &v2)?, Ok(()));
        assert_eq!(apply_counted(&mut conn, "a_schema", &v2)?, Ok(()));
        assert_eq!(counted_version(&conn, "a_schema")?, 2);
        conn.execute("INSERT INTO a (x, y) VALUES (1, 'ok')", [])?;
        assert_eq!(apply_counted(&mut conn, "a_schema", &v1)?, Err((2, 1)));
        // Another counter in the same file is independent.
        assert_eq!(
            apply_counted(&mut conn, "b_schema", &["CREATE TABLE b (z INTEGER)"])?,
            Ok(())
        );
        assert_eq!(counted_version(&conn, "b_schema")?, 1);
        Ok(())
    }
}
