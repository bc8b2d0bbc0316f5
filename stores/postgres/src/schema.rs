//! The schema: one PostgreSQL table per engine table, and the statements each is read and written
//! with.
//!
//! Each engine table is its own PostgreSQL table, `oidc_<name> (key bytea, value bytea, purge_at
//! bigint)`, with its own primary-key index. Under SERIALIZABLE, PostgreSQL records the index
//! pages a transaction reads, and an insert into such a page by a concurrent transaction is a
//! read/write conflict. In one shared index the pages holding clients or signing keys (read by
//! every token request) also held the newest audit lines and access tokens (written by every
//! token request), and three quarters of the token requests under load were refused for
//! conflicts. Separate indexes keep what is mostly read away from what is mostly written.

use engine::store::Table;

/// The version this build writes. 1: one shared table `oidc_records`; 2: a table per engine table;
/// 3: each record may keep the keys of the records it points to (`links`, a JSON object from
/// table name to key), which a read of it fetches in the same statement.
pub const VERSION: i32 = 3;

/// The name of `table`'s PostgreSQL table.
pub fn name(table: Table) -> String {
    format!("oidc_{}", table.name())
}

/// The number `table` had in version 1's shared table: its place in `Table::ALL`.
fn v1_id(table: Table) -> i16 {
    Table::ALL.iter().position(|t| *t == table).map_or(-1, |i| i as i16)
}

/// Creates whatever is missing (idempotent).
pub fn create() -> String {
    let mut sql = String::from("CREATE TABLE IF NOT EXISTS oidc_schema (version integer NOT NULL);\n");
    for table in Table::ALL {
        let t = name(table);
        // fillfactor 70: room on each page for an updated record's new version, which then adds
        // no index entry (a HOT update) and so no conflict with readers of the index page.
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (key bytea PRIMARY KEY, value bytea NOT NULL, purge_at bigint, \
             links jsonb) WITH (fillfactor = 70);\n\
             ALTER TABLE {t} ADD COLUMN IF NOT EXISTS links jsonb;\n\
             CREATE INDEX IF NOT EXISTS {t}_purge ON {t} (purge_at, key) WHERE purge_at IS NOT NULL;\n"
        ));
    }
    sql
}

/// Moves version 1's shared table into the per-table ones, in the migration's transaction.
pub fn from_v1() -> String {
    let mut sql = String::new();
    for table in Table::ALL {
        sql.push_str(&format!(
            "INSERT INTO {} (key, value, purge_at) SELECT key, value, purge_at FROM oidc_records WHERE tbl = {};\n",
            name(table),
            v1_id(table)
        ));
    }
    sql.push_str("DROP TABLE oidc_records;\n");
    sql
}

/// The statements of one table.
pub struct Statements {
    /// The records of the keys in `$1` (`bytea[]`), with the records they link to ([`get`]).
    pub get: String,
    /// Inserts or replaces the records in `$1`, `$2`, `$3`, `$4` (keys, values, purge times,
    /// links as JSON text).
    pub upsert: String,
    /// Deletes the records of the keys in `$1`.
    pub delete: String,
    /// Keys from `$1` (inclusive), after `$2` and before `$3` (either may be null), `$4` at most.
    pub scan: String,
    /// Records expired before `$1`, after the cursor (`$2`, `$3`), `$4` at most.
    pub expired: String,
}

impl Statements {
    fn of(table: Table) -> Self {
        let t = name(table);
        Statements {
            get: get(table),
            upsert: format!(
                "INSERT INTO {t} (key, value, purge_at, links) SELECT k, v, p, l::jsonb \
                 FROM unnest($1::bytea[], $2::bytea[], $3::bigint[], $4::text[]) AS u(k, v, p, l) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, purge_at = EXCLUDED.purge_at, \
                 links = EXCLUDED.links"
            ),
            delete: format!("DELETE FROM {t} WHERE key = ANY($1::bytea[])"),
            scan: format!(
                "SELECT key, value FROM {t} WHERE key >= $1 AND ($2::bytea IS NULL OR key > $2) \
                 AND ($3::bytea IS NULL OR key < $3) ORDER BY key LIMIT $4"
            ),
            expired: format!(
                "SELECT key, purge_at FROM {t} WHERE purge_at IS NOT NULL AND purge_at < $1 \
                 AND ($2::bigint IS NULL OR (purge_at, key) > ($2, $3::bytea)) ORDER BY purge_at, key LIMIT $4"
            ),
        }
    }
}

/// The read of `table`'s records by key: rows of (key, value, links as text), then, for a table
/// whose records point to others (`Table::links_to`), one column per table it may point to, in
/// that order: the value of the record its links name there (NULL when none or absent). Each is a
/// scalar subquery on the primary key, so it is always an index lookup of one key (a join could
/// be planned as a scan of a small table's whole index, which under SERIALIZABLE would lock it
/// all), and it costs a few microseconds more than reading the record alone.
fn get(table: Table) -> String {
    let t = name(table);
    let mut columns = String::from("r.key, r.value, r.links::text");
    for target in table.links_to() {
        columns.push_str(&format!(
            ", (SELECT x.value FROM {x} x WHERE x.key = convert_to(r.links->>'{n}', 'UTF8'))",
            x = name(*target),
            n = target.name()
        ));
    }
    format!("SELECT {columns} FROM {t} r WHERE r.key = ANY($1::bytea[])")
}

/// Every table's statements, in `Table::ALL`'s order.
pub struct AllStatements(Vec<Statements>);

impl AllStatements {
    pub fn new() -> Self {
        AllStatements(Table::ALL.into_iter().map(Statements::of).collect())
    }

    pub fn of(&self, table: Table) -> &Statements {
        let i = Table::ALL.iter().position(|t| *t == table).unwrap_or(0);
        &self.0[i]
    }
}

/// Counts and sizes of every table, one row per table: name, records, key bytes, value bytes,
/// bytes on disk.
pub fn stats() -> String {
    Table::ALL
        .into_iter()
        .map(|table| {
            let t = name(table);
            format!(
                "SELECT '{t}'::text, count(*), coalesce(sum(length(key)), 0)::bigint, \
                 coalesce(sum(length(value)), 0)::bigint, pg_total_relation_size('{t}') FROM {t}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}
