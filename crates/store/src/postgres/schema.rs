//! The versioned schema of the PostgreSQL store and its migrations, run on open.
//!
//! `automl_schema` holds one row with the schema version. Each migration runs in its own
//! transaction after taking a transaction-scoped advisory lock, and re-reads the version under
//! that lock, so concurrent openers (a coordinator and workers starting together) migrate once.
//! When the version is current nothing is locked and no DDL runs, so a role without DDL rights
//! (a worker's) opens an already-migrated database. A version above [`VERSION`] was written by
//! a newer automl and is refused.

use super::Fail;
use crate::StoreError;
use postgres::GenericClient;
use std::path::Path;

/// The schema version this build writes and reads.
pub const VERSION: i32 = 1;

/// Key of the advisory lock that serialises migrations ("automl" in ASCII, then 1).
const LOCK_KEY: i64 = 0x6175_746f_6d6c_0001;

/// Migration to version 1: every table.
const V1: &str = r#"
CREATE TABLE automl_schema (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version integer NOT NULL,
    migrated_by text NOT NULL,
    migrated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO automl_schema (version, migrated_by) VALUES (0, '');

-- record: the JSON study record (as sled stores it); nonce: the client's id of the
-- create_study call that wrote the row (a retried call finds its own row).
CREATE TABLE automl_studies (
    study_id bigint PRIMARY KEY,
    record bytea NOT NULL,
    next_trial bigint NOT NULL DEFAULT 0,
    nonce bigint
);

-- record: the binary trial record (store/src/binrec.rs), the same bytes sled stores.
CREATE TABLE automl_trials (
    study_id bigint NOT NULL REFERENCES automl_studies ON DELETE CASCADE,
    trial_id bigint NOT NULL,
    record bytea NOT NULL,
    nonce bigint,
    PRIMARY KEY (study_id, trial_id)
);
CREATE INDEX automl_trials_nonce ON automl_trials (study_id, nonce);

-- A value (the lz4 envelope of codec::compress) is a head row plus chunks of at most 1 MiB.
CREATE TABLE automl_artifacts (
    study_id bigint NOT NULL,
    trial_id bigint NOT NULL,
    chunks integer NOT NULL,
    len bigint NOT NULL,
    PRIMARY KEY (study_id, trial_id),
    FOREIGN KEY (study_id, trial_id) REFERENCES automl_trials ON DELETE CASCADE
);
CREATE TABLE automl_artifact_chunks (
    study_id bigint NOT NULL,
    trial_id bigint NOT NULL,
    chunk integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (study_id, trial_id, chunk),
    FOREIGN KEY (study_id, trial_id) REFERENCES automl_artifacts ON DELETE CASCADE
);
CREATE TABLE automl_blobs (
    study_id bigint NOT NULL REFERENCES automl_studies ON DELETE CASCADE,
    key text NOT NULL,
    chunks integer NOT NULL,
    len bigint NOT NULL,
    PRIMARY KEY (study_id, key)
);
CREATE TABLE automl_blob_chunks (
    study_id bigint NOT NULL,
    key text NOT NULL,
    chunk integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (study_id, key, chunk),
    FOREIGN KEY (study_id, key) REFERENCES automl_blobs ON DELETE CASCADE
);

-- state: 0 queued, 1 claimed, 2 done, 3 lost, 4 closed. token: the current claim's;
-- finished_by: the token that finished it; taken_by: the take_results call that closed it.
CREATE TABLE automl_queue (
    study_id bigint NOT NULL REFERENCES automl_studies ON DELETE CASCADE,
    trial_id bigint NOT NULL,
    state smallint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    token bigint,
    finished_by bigint,
    taken_by bigint,
    worker text NOT NULL DEFAULT '',
    lease_until timestamptz,
    payload bytea NOT NULL,
    result bytea,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (study_id, trial_id)
);
CREATE INDEX automl_queue_queued ON automl_queue (study_id, trial_id) WHERE state = 0;
CREATE INDEX automl_queue_claimed ON automl_queue (lease_until) WHERE state = 1;
CREATE INDEX automl_queue_token ON automl_queue (token);

-- Values arrive lz4-compressed: keep them out of line without compressing them again (pglz
-- on megabytes of model bytes cost more than the rest of a trial's store work together).
ALTER TABLE automl_artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE automl_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE automl_queue ALTER COLUMN result SET STORAGE EXTERNAL;
ALTER TABLE automl_queue ALTER COLUMN payload SET STORAGE EXTERNAL;
"#;

/// The migrations, by the version each one brings the schema to.
const MIGRATIONS: &[(i32, &str)] = &[(1, V1)];

/// The schema version of the database (None: no automl tables).
pub(crate) fn current_version(
    c: &mut impl GenericClient,
    path: &Path,
) -> Result<Option<i32>, Fail> {
    // A scan of pg_class under the statement's snapshot, not `to_regclass`: the catalog cache
    // is not refreshed by taking an advisory lock, so after waiting for another opener's
    // migration `to_regclass` may still miss the table that opener created.
    let exists: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = 'automl_schema' AND n.nspname = current_schema())",
            &[],
        )?
        .try_get(0)?;
    if !exists {
        return Ok(None);
    }
    let rows = c.query("SELECT version FROM automl_schema", &[])?;
    match rows.as_slice() {
        [row] => Ok(Some(row.try_get(0)?)),
        _ => Err(Fail::Store(StoreError::Corrupt {
            what: format!("the schema table of the store {}", path.display()),
            reason: format!("it holds {} rows instead of one", rows.len()),
        })),
    }
}

fn newer(path: &Path, found: i32) -> Fail {
    Fail::Store(StoreError::NewerSchema {
        path: path.to_path_buf(),
        found: u32::try_from(found).unwrap_or(u32::MAX),
        supported: VERSION as u32,
    })
}

/// Bring the schema to [`VERSION`]; nothing (no lock, no DDL) when it is current.
pub(crate) fn migrate(c: &mut postgres::Client, path: &Path) -> Result<(), Fail> {
    match current_version(c, path)? {
        Some(v) if v == VERSION => return Ok(()),
        Some(v) if v > VERSION => return Err(newer(path, v)),
        _ => {}
    }
    for &(to, sql) in MIGRATIONS {
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
        let now = current_version(&mut tx, path)?.unwrap_or(0);
        if now > VERSION {
            return Err(newer(path, now));
        }
        if now >= to {
            continue; // another opener migrated meanwhile; the transaction rolls back
        }
        tx.batch_execute(sql)?;
        let by = format!("automl-store {}", env!("CARGO_PKG_VERSION"));
        tx.execute(
            "UPDATE automl_schema SET version = $1, migrated_by = $2, migrated_at = now()",
            &[&to, &by],
        )?;
        tx.commit()?;
    }
    Ok(())
}
