//! `PgStore`: the store in a PostgreSQL database that a coordinator and worker processes
//! share, with the trial queue (`queue.rs`), a versioned schema migrated on open
//! (`schema.rs`) and URLs whose password is never shown (`url.rs`).
//!
//! Records are the same bytes the sled store keeps (JSON study records, binary trial records);
//! artifacts and blobs are the same lz4 envelopes, split into rows of at most [`CHUNK`] bytes.
//!
//! **One connection per handle**, shared by the handle's threads behind a mutex (so each
//! process holds one connection per opened store; calls from several threads take turns).
//!
//! **Reconnection.** A call that loses its connection (server restarted, network cut) is
//! retried on a new connection with backoff for up to the retry window (default
//! [`DEFAULT_RETRY_WINDOW`], [`PgStore::set_retry_window`], or the environment variable
//! [`RETRY_WINDOW_ENV`]), then fails with `Unavailable`. Opening a store does not wait: a
//! server that cannot be reached at open is `Unavailable` at once. A retried call may repeat
//! work whose commit succeeded before the connection was lost, so every call is written to be
//! safe to repeat:
//! - `create_study` and `start_trial` tag the row they insert with a random nonce and, when
//!   retried, return the row already written under it instead of allocating another id;
//! - `claim` uses a client-chosen token and, when retried, returns the entry already claimed
//!   with it; `take_results` closes entries under a client-chosen take id and, when retried,
//!   returns the entries it already closed;
//! - `update_study`, `finish_trial`, `put_blob`, `delete_artifact`, `enqueue`, `renew`,
//!   `finish`, `cancel` are idempotent.
//!
//! **Least privilege.** The first open of a database creates the tables, so it needs a role
//! that may create them in the current schema (the database owner, e.g. the coordinator's).
//! Later opens run no DDL while the schema is current, so workers can use a role with data
//! rights only: `GRANT CONNECT ON DATABASE db TO worker; GRANT USAGE ON SCHEMA public TO
//! worker; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO worker;`
//! (no sequences are used; advisory locks need no grant).
//!
//! Not exact on a retry after an unknown commit outcome (the effect is right, the count
//! returned may be lower): `mark_interrupted`, `apply_retention` and `requeue_expired`
//! report only what the retry itself changed.

mod queue;
mod schema;
pub mod url;

pub use schema::VERSION as SCHEMA_VERSION;
pub use url::{PgUrl, SslMode};

use crate::codec::{self, artifact_name, blob_name, trial_name};
use crate::{Packed, Store, StoreError, StoreRead, TrialQueue};
use automl_core::{Candidate, StudyRecord, TrialRecord, TrialState};
use postgres::Client;
use postgres::types::ToSql;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Largest chunk of an artifact or blob row, in bytes.
pub const CHUNK: usize = 1024 * 1024;

/// How long a call retries a lost connection by default.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(60);

/// Environment variable overriding the retry window of stores opened afterwards, in seconds.
pub const RETRY_WINDOW_ENV: &str = "AUTOML_PG_RETRY_WINDOW_S";

/// Key of the advisory lock that serialises study-id allocation.
const STUDY_LOCK_KEY: i64 = 0x6175_746f_6d6c_0002;

/// Why one attempt of an operation failed: a PostgreSQL error (classified by the retry loop)
/// or a store error (returned as it is).
pub(crate) enum Fail {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

/// A store in a PostgreSQL database. See the module documentation for connections, retries
/// and what is safe to retry.
pub struct PgStore {
    url: PgUrl,
    /// The URL with its password masked, as a path for the errors that name one.
    path: PathBuf,
    conn: Mutex<Option<Client>>,
    retry_window_ms: AtomicU64,
    /// Test hook: lose the connection right after the next call succeeds.
    lose_next_reply: std::sync::atomic::AtomicBool,
}

/// A random 63-bit id (never negative, never 0): nonces, tokens and take ids.
pub(crate) fn nonce() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    ((h.finish() >> 1) as i64).max(1)
}

/// An id as PostgreSQL keeps it (`bigint`); an id above `i64::MAX` is -1, which matches no row.
pub(crate) fn db_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(-1)
}

/// An id read from the database.
pub(crate) fn read_id(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("negative id {v}"),
    })
}

fn one_line(s: String) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether an error means the connection is gone (or the transaction must be run again), so
/// the call is worth retrying.
fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        let c = db.code().code();
        return c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "40001" | "40P01");
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    let m = e.to_string();
    m.starts_with("error connecting")
        || m.starts_with("timeout")
        || m.starts_with("error communicating")
}

/// One line saying what went wrong and what to check. Never holds the password: the
/// postgres crate's messages name options, never their values, and the server's messages
/// name the user at most.
fn describe(e: &postgres::Error, url: &PgUrl) -> String {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let hint = match code {
            "28P01" | "28000" => {
                "; check the user and password in the URL (and the server's pg_hba.conf)"
            }
            "3D000" => "; check the database name in the URL, or create the database",
            "42501" => "; the role lacks a privilege (see the least-privilege notes in the docs)",
            c if c.starts_with("08") || c.starts_with("57") => "; check that the server is running",
            _ => "",
        };
        return one_line(format!("{} (SQLSTATE {code}){hint}", db.message()));
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    let hint = if msg.contains("does not support TLS") {
        format!(
            "; the server does not offer TLS but the URL says sslmode={}: enable ssl on the server, or use sslmode=prefer or sslmode=disable",
            url.sslmode().as_str()
        )
    } else if msg.contains("TLS") || msg.contains("certificate") {
        "; check the server's certificate and the URL's sslmode and sslrootcert".to_string()
    } else {
        format!(
            "; check that the server is running and accepts connections at {}:{}",
            url.host(),
            url.port()
        )
    };
    one_line(format!("{msg}{hint}"))
}

/// The TLS connector for the URL's `sslmode` (libpq's meaning: prefer and require do not check
/// the certificate; verify-ca checks it against `sslrootcert` or the system's roots;
/// verify-full checks the host name too).
fn tls(url: &PgUrl) -> Result<postgres_native_tls::MakeTlsConnector, StoreError> {
    let unavailable = |reason: String| StoreError::Unavailable {
        store: url.to_string(),
        reason,
    };
    let mut b = native_tls::TlsConnector::builder();
    match url.sslmode() {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            b.danger_accept_invalid_certs(true);
            b.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyCa => {
            b.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyFull => {}
    }
    if let Some(file) = url.sslrootcert() {
        let pem = std::fs::read(file)
            .map_err(|e| unavailable(format!("cannot read sslrootcert {file}: {e}")))?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            unavailable(format!("sslrootcert {file} is not a PEM certificate: {e}"))
        })?;
        b.add_root_certificate(cert);
    }
    let c = b
        .build()
        .map_err(|e| unavailable(format!("cannot set up TLS: {e}")))?;
    Ok(postgres_native_tls::MakeTlsConnector::new(c))
}

fn connect(url: &PgUrl) -> Result<Client, Fail> {
    let tls = tls(url)?;
    Ok(url.config().connect(tls)?)
}

impl PgStore {
    /// Connect and bring the schema up to date (creating the tables in an empty database).
    /// Errors: `Unavailable` when the server cannot be reached or refuses the login (never
    /// retried here), `NewerSchema` when a newer automl migrated the database, `Database`
    /// when the role may not create the tables.
    pub fn open(url: &PgUrl) -> Result<PgStore, StoreError> {
        let s = PgStore::connect(url)?;
        s.run("opening", |c, _| schema::migrate(c, &s.path))
            .map_err(|e| s.ddl_denied(e))?;
        Ok(s)
    }

    /// Connect for reading: no DDL when the schema is current (an older schema is migrated,
    /// as by [`PgStore::open`]). `NotAStore` when the database holds no automl tables.
    pub fn open_read(url: &PgUrl) -> Result<PgStore, StoreError> {
        let s = PgStore::connect(url)?;
        let version = s.run("opening", |c, _| schema::current_version(c, &s.path))?;
        match version {
            None => Err(StoreError::NotAStore {
                path: s.path.clone(),
                reason:
                    "the database holds no automl tables (a `fit` with this --store creates them)"
                        .to_string(),
            }),
            Some(v) if v == schema::VERSION => Ok(s),
            Some(_) => {
                s.run("opening", |c, _| schema::migrate(c, &s.path))
                    .map_err(|e| s.ddl_denied(e))?;
                Ok(s)
            }
        }
    }

    fn connect(url: &PgUrl) -> Result<PgStore, StoreError> {
        let client = match connect(url) {
            Ok(c) => c,
            Err(Fail::Store(e)) => return Err(e),
            Err(Fail::Pg(e)) => {
                return Err(StoreError::Unavailable {
                    store: url.to_string(),
                    reason: describe(&e, url),
                });
            }
        };
        let window = std::env::var(RETRY_WINDOW_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(DEFAULT_RETRY_WINDOW, Duration::from_secs_f64);
        Ok(PgStore {
            path: PathBuf::from(url.to_string()),
            url: url.clone(),
            conn: Mutex::new(Some(client)),
            retry_window_ms: AtomicU64::new(window.as_millis() as u64),
            lose_next_reply: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The URL of the store (displays with its password masked).
    pub fn url(&self) -> &PgUrl {
        &self.url
    }

    /// How long a call retries a lost connection before `Unavailable`.
    pub fn set_retry_window(&self, window: Duration) {
        self.retry_window_ms
            .store(window.as_millis() as u64, Ordering::Relaxed);
    }

    /// Test hook (feature `pg-test-server`): after the next call has done its work (committed),
    /// the server ends the connection before the caller sees the reply, as when a connection
    /// is lost with the commit outcome unknown; the call is then retried as in production.
    #[cfg(feature = "pg-test-server")]
    pub fn lose_next_reply(&self) {
        self.lose_next_reply.store(true, Ordering::SeqCst);
    }

    /// The retry window in force.
    pub fn retry_window(&self) -> Duration {
        Duration::from_millis(self.retry_window_ms.load(Ordering::Relaxed))
    }

    /// Whether the current connection is encrypted (TLS), as the server reports it.
    pub fn uses_tls(&self) -> Result<bool, StoreError> {
        self.run("reading the connection's TLS state", |c, _| {
            Ok(c.query_one(
                "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
                &[],
            )?
            .try_get(0)?)
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Option<Client>> {
        // A panic while holding the connection leaves at worst an aborted transaction, which
        // the postgres crate rolls back when the `Transaction` is dropped.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unavailable(&self, reason: String) -> StoreError {
        StoreError::Unavailable {
            store: self.url.to_string(),
            reason: one_line(reason),
        }
    }

    fn db_error(&self, what: &str, e: &postgres::Error) -> StoreError {
        StoreError::Database {
            path: self.path.clone(),
            message: format!("{what}: {}", describe(e, &self.url)),
        }
    }

    /// A migration refused for want of privileges, said plainly.
    fn ddl_denied(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Database { path, message } if message.contains("42501") => {
                StoreError::Database {
                    path,
                    message: format!(
                        "{message}; the role may not create the automl tables: open the store once with the database owner's role (e.g. the coordinator's), after which roles without DDL rights can use it"
                    ),
                }
            }
            e => e,
        }
    }

    /// Run `op` on the connection, reconnecting and retrying it while the connection is lost,
    /// for up to the retry window. `op` gets `true` when an earlier attempt of this call may
    /// have reached the server (its commit outcome unknown).
    pub(crate) fn run<T>(
        &self,
        what: &str,
        mut op: impl FnMut(&mut Client, bool) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        let start = Instant::now();
        let window = self.retry_window();
        let mut delay = Duration::from_millis(50);
        let mut retried = false;
        let mut last = String::new();
        loop {
            if guard.as_ref().is_none_or(|c| c.is_closed()) {
                *guard = None;
                match connect(&self.url) {
                    Ok(c) => *guard = Some(c),
                    Err(Fail::Store(e)) => return Err(e),
                    Err(Fail::Pg(e)) if is_transient(&e) => last = describe(&e, &self.url),
                    Err(Fail::Pg(e)) => return Err(self.unavailable(describe(&e, &self.url))),
                }
            }
            if let Some(client) = guard.as_mut() {
                match op(client, retried) {
                    Ok(_) if self.lose_next_reply.swap(false, Ordering::SeqCst) => {
                        retried = true;
                        let _ =
                            client.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())");
                        *guard = None;
                        continue;
                    }
                    Ok(v) => return Ok(v),
                    Err(Fail::Store(e)) => return Err(e),
                    Err(Fail::Pg(e)) if is_transient(&e) => {
                        retried = true;
                        last = describe(&e, &self.url);
                        let rerun = e
                            .code()
                            .is_some_and(|c| matches!(c.code(), "40001" | "40P01"));
                        if rerun {
                            continue; // a deadlock or serialization failure: run it again now
                        }
                        *guard = None;
                    }
                    Err(Fail::Pg(e)) => return Err(self.db_error(what, &e)),
                }
            }
            let spent = start.elapsed();
            if spent >= window {
                return Err(self.unavailable(format!(
                    "the connection was lost while {what} and not re-established within {} s ({last})",
                    window.as_secs_f64()
                )));
            }
            std::thread::sleep(delay.min(window - spent));
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    fn decode_trial_row(
        &self,
        study_id: u64,
        trial_id: i64,
        bytes: &[u8],
    ) -> Result<TrialRecord, StoreError> {
        let trial_id = read_id(trial_id, &format!("a trial of study {study_id}"))?;
        let name = trial_name(study_id, trial_id);
        let t = codec::decode_trial(bytes, &name, self.path())?;
        crate::sled_store::check_ids(&t, study_id, trial_id)?;
        Ok(t)
    }

    fn decode_study_row(&self, id: i64, bytes: &[u8]) -> Result<StudyRecord, StoreError> {
        let id = read_id(id, "a study")?;
        let s = codec::decode_study(bytes, &format!("study {id}"), self.path())?;
        if s.study_id != id {
            return Err(StoreError::Corrupt {
                what: format!("study {id}"),
                reason: format!("the record says it is study {}", s.study_id),
            });
        }
        Ok(s)
    }

    /// Read a chunked value: `sql` selects (chunks, len, chunk, data) ordered by chunk, with
    /// a left join so a head without chunks still gives one row.
    fn read_chunked(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let rows = self.run(what, |c, _| Ok(c.query(sql, params)?))?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let damaged = |reason: String| StoreError::Corrupt {
            what: what.to_string(),
            reason,
        };
        let pg = |e: postgres::Error| self.db_error(what, &e);
        let n: i32 = first.try_get(0).map_err(pg)?;
        let len: i64 = first.try_get(1).map_err(pg)?;
        if n < 0 || len < 0 || len > i64::from(n) * CHUNK as i64 {
            return Err(damaged(format!(
                "the head says {len} bytes in {n} chunks of at most {CHUNK}"
            )));
        }
        let mut out = Vec::with_capacity((len as usize).min(1 << 24));
        let mut expect = 0i32;
        for row in &rows {
            let Some(i) = row.try_get::<_, Option<i32>>(2).map_err(pg)? else {
                break;
            };
            if i != expect {
                return Err(damaged(format!("chunk {expect} of {n} is missing")));
            }
            let data: &[u8] = row.try_get(3).map_err(pg)?;
            out.extend_from_slice(data);
            expect += 1;
        }
        if expect != n {
            return Err(damaged(format!("chunk {expect} of {n} is missing")));
        }
        if out.len() as u64 != len as u64 {
            return Err(damaged(format!(
                "chunks hold {} bytes, the head says {len}",
                out.len()
            )));
        }
        Ok(Some(out))
    }

    fn delete_artifact_in(
        &self,
        tx: &mut postgres::Transaction<'_>,
        study_id: u64,
        trial_id: u64,
    ) -> Result<(), Fail> {
        let (s, t) = (db_id(study_id), db_id(trial_id));
        let row = tx.query_opt(
            "SELECT record FROM automl_trials WHERE study_id = $1 AND trial_id = $2 FOR UPDATE",
            &[&s, &t],
        )?;
        let Some(row) = row else {
            return Err(Fail::Store(StoreError::NotFound {
                what: trial_name(study_id, trial_id),
            }));
        };
        let mut rec = self.decode_trial_row(study_id, t, row.try_get(0)?)?;
        if rec.has_artifact {
            rec.has_artifact = false;
            let bytes = codec::encode_trial(&rec)?;
            tx.execute(
                "UPDATE automl_trials SET record = $3 WHERE study_id = $1 AND trial_id = $2",
                &[&s, &t, &bytes],
            )?;
        }
        tx.execute(
            "DELETE FROM automl_artifacts WHERE study_id = $1 AND trial_id = $2",
            &[&s, &t],
        )?;
        Ok(())
    }
}

/// Write `value` as chunk rows with `insert` ($1, $2 the key, $3 chunk index, $4 data).
fn write_chunks(
    tx: &mut postgres::Transaction<'_>,
    insert: &str,
    k1: &(dyn ToSql + Sync),
    k2: &(dyn ToSql + Sync),
    value: &[u8],
) -> Result<(), Fail> {
    let stmt = tx.prepare(insert)?;
    for (i, c) in value.chunks(CHUNK).enumerate() {
        let i = i as i32;
        tx.execute(&stmt, &[k1, k2, &i, &c])?;
    }
    Ok(())
}

fn chunk_count(value: &[u8]) -> Result<(i32, i64), StoreError> {
    let n = i32::try_from(value.len().div_ceil(CHUNK)).map_err(|_| StoreError::Invalid {
        what: "a value to store".to_string(),
        reason: format!("{} bytes is too large", value.len()),
    })?;
    Ok((n, value.len() as i64))
}

impl StoreRead for PgStore {
    fn studies(&self) -> Result<Vec<StudyRecord>, StoreError> {
        let rows = self.run("listing studies", |c, _| {
            Ok(c.query(
                "SELECT study_id, record FROM automl_studies ORDER BY study_id",
                &[],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                let id: i64 = r
                    .try_get(0)
                    .map_err(|e| self.db_error("listing studies", &e))?;
                let b: &[u8] = r
                    .try_get(1)
                    .map_err(|e| self.db_error("listing studies", &e))?;
                self.decode_study_row(id, b)
            })
            .collect()
    }
    fn study(&self, id: u64) -> Result<Option<StudyRecord>, StoreError> {
        let row = self.run("reading a study", |c, _| {
            Ok(c.query_opt(
                "SELECT record FROM automl_studies WHERE study_id = $1",
                &[&db_id(id)],
            )?)
        })?;
        match row {
            Some(r) => {
                let b: &[u8] = r
                    .try_get(0)
                    .map_err(|e| self.db_error("reading a study", &e))?;
                Ok(Some(self.decode_study_row(db_id(id), b)?))
            }
            None => Ok(None),
        }
    }
    fn latest_study(&self) -> Result<Option<StudyRecord>, StoreError> {
        let row = self.run("reading the latest study", |c, _| {
            Ok(c.query_opt(
                "SELECT study_id, record FROM automl_studies ORDER BY study_id DESC LIMIT 1",
                &[],
            )?)
        })?;
        match row {
            Some(r) => {
                let err = |e: postgres::Error| self.db_error("reading the latest study", &e);
                let id: i64 = r.try_get(0).map_err(err)?;
                let b: &[u8] = r.try_get(1).map_err(err)?;
                Ok(Some(self.decode_study_row(id, b)?))
            }
            None => Ok(None),
        }
    }
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError> {
        let rows = self.run("reading trials", |c, _| {
            Ok(c.query(
                "SELECT trial_id, record FROM automl_trials WHERE study_id = $1 ORDER BY trial_id",
                &[&db_id(study_id)],
            )?)
        })?;
        let items: Vec<(i64, &[u8])> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, postgres::Error>>()
            .map_err(|e| self.db_error("reading trials", &e))?;
        codec::decode_many(&items, |(t, b)| self.decode_trial_row(study_id, *t, b))
    }
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        let row = self.run("reading a trial", |c, _| {
            Ok(c.query_opt(
                "SELECT record FROM automl_trials WHERE study_id = $1 AND trial_id = $2",
                &[&db_id(study_id), &db_id(trial_id)],
            )?)
        })?;
        match row {
            Some(r) => {
                let b: &[u8] = r
                    .try_get(0)
                    .map_err(|e| self.db_error("reading a trial", &e))?;
                Ok(Some(self.decode_trial_row(study_id, db_id(trial_id), b)?))
            }
            None => Ok(None),
        }
    }
    fn artifact(&self, study_id: u64, trial_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let what = artifact_name(study_id, trial_id);
        self.read_chunked(
            &what,
            "SELECT a.chunks, a.len, c.chunk, c.data FROM automl_artifacts a \
             LEFT JOIN automl_artifact_chunks c USING (study_id, trial_id) \
             WHERE a.study_id = $1 AND a.trial_id = $2 ORDER BY c.chunk",
            &[&db_id(study_id), &db_id(trial_id)],
        )?
        .map(|v| codec::decompress(&v, &what))
        .transpose()
    }
    fn blob(&self, study_id: u64, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let what = blob_name(study_id, key);
        self.read_chunked(
            &what,
            "SELECT b.chunks, b.len, c.chunk, c.data FROM automl_blobs b \
             LEFT JOIN automl_blob_chunks c USING (study_id, key) \
             WHERE b.study_id = $1 AND b.key = $2 ORDER BY c.chunk",
            &[&db_id(study_id), &key],
        )?
        .map(|v| codec::decompress(&v, &what))
        .transpose()
    }
    fn disk_size(&self) -> Option<u64> {
        self.run("measuring the database", |c, _| {
            let n: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .try_get(0)?;
            Ok(u64::try_from(n).ok())
        })
        .ok()
        .flatten()
    }
}

impl Store for PgStore {
    fn create_study(&self, study: StudyRecord) -> Result<u64, StoreError> {
        let tag = nonce();
        self.run("creating a study", |c, retried| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&STUDY_LOCK_KEY])?;
            if retried {
                let found = tx.query_opt(
                    "SELECT study_id FROM automl_studies WHERE nonce = $1",
                    &[&tag],
                )?;
                if let Some(r) = found {
                    return Ok(read_id(r.try_get(0)?, "a study")?);
                }
            }
            let next: i64 = tx
                .query_one(
                    "SELECT coalesce(max(study_id), 0) + 1 FROM automl_studies",
                    &[],
                )?
                .try_get(0)?;
            let mut rec = study.clone();
            rec.study_id = read_id(next, "a study")?;
            let bytes = codec::encode_study(&rec)?;
            tx.execute(
                "INSERT INTO automl_studies (study_id, record, nonce) VALUES ($1, $2, $3)",
                &[&next, &bytes, &tag],
            )?;
            tx.commit()?;
            Ok(rec.study_id)
        })
    }
    fn update_study(&self, study: &StudyRecord) -> Result<(), StoreError> {
        let bytes = codec::encode_study(study)?;
        let id = study.study_id;
        self.run("updating a study", |c, _| {
            let n = c.execute(
                "UPDATE automl_studies SET record = $2 WHERE study_id = $1",
                &[&db_id(id), &bytes],
            )?;
            if n == 0 {
                return Err(Fail::Store(StoreError::NotFound {
                    what: format!("study {id}"),
                }));
            }
            Ok(())
        })
    }
    fn start_trial(
        &self,
        study_id: u64,
        candidate: &Candidate,
        strategy: &str,
        seed: u64,
    ) -> Result<TrialRecord, StoreError> {
        let tag = nonce();
        let s = db_id(study_id);
        self.run("starting a trial", |c, retried| {
            let mut tx = c.transaction()?;
            if retried {
                let found = tx.query_opt(
                    "SELECT trial_id, record FROM automl_trials WHERE study_id = $1 AND nonce = $2",
                    &[&s, &tag],
                )?;
                if let Some(r) = found {
                    return Ok(self.decode_trial_row(study_id, r.try_get(0)?, r.try_get(1)?)?);
                }
            }
            let row = tx.query_opt(
                "UPDATE automl_studies SET next_trial = next_trial + 1 WHERE study_id = $1 \
                 RETURNING next_trial - 1",
                &[&s],
            )?;
            let Some(row) = row else {
                return Err(Fail::Store(StoreError::NotFound {
                    what: format!("study {study_id}"),
                }));
            };
            let id = read_id(row.try_get(0)?, "a trial counter")?;
            let rec = crate::new_trial_record(study_id, id, candidate, strategy, seed);
            let bytes = codec::encode_trial(&rec)?;
            tx.execute(
                "INSERT INTO automl_trials (study_id, trial_id, record, nonce) VALUES ($1, $2, $3, $4)",
                &[&s, &db_id(id), &bytes, &tag],
            )?;
            tx.commit()?;
            Ok(rec)
        })
    }
    fn write_finished(&self, rec: &TrialRecord, packed: Packed) -> Result<(), StoreError> {
        let bytes = codec::encode_trial(rec)?;
        let keep = matches!(packed, Packed::Keep);
        let packed = match packed {
            Packed::Replace(p) => Some(p.into_vec()),
            Packed::Delete | Packed::Keep => None,
        };
        let head = packed.as_deref().map(chunk_count).transpose()?;
        let (s, t) = (db_id(rec.study_id), db_id(rec.trial_id));
        self.run("finishing a trial", |c, _| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE automl_trials SET record = $3 WHERE study_id = $1 AND trial_id = $2",
                &[&s, &t, &bytes],
            )?;
            if n == 0 {
                return Err(Fail::Store(StoreError::NotFound {
                    what: trial_name(rec.study_id, rec.trial_id),
                }));
            }
            if keep {
                tx.commit()?;
                return Ok(());
            }
            tx.execute(
                "DELETE FROM automl_artifacts WHERE study_id = $1 AND trial_id = $2",
                &[&s, &t],
            )?;
            if let (Some(p), Some((n, len))) = (&packed, head) {
                tx.execute(
                    "INSERT INTO automl_artifacts (study_id, trial_id, chunks, len) VALUES ($1, $2, $3, $4)",
                    &[&s, &t, &n, &len],
                )?;
                write_chunks(
                    &mut tx,
                    "INSERT INTO automl_artifact_chunks (study_id, trial_id, chunk, data) VALUES ($1, $2, $3, $4)",
                    &s,
                    &t,
                    p,
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }
    fn write_blob(
        &self,
        study_id: u64,
        key: &str,
        stored: codec::Stored,
    ) -> Result<(), StoreError> {
        let stored = stored.into_vec();
        let (n, len) = chunk_count(&stored)?;
        let s = db_id(study_id);
        self.run("writing a blob", |c, _| {
            let mut tx = c.transaction()?;
            if tx
                .query_opt("SELECT 1 FROM automl_studies WHERE study_id = $1 FOR SHARE", &[&s])?
                .is_none()
            {
                return Err(Fail::Store(StoreError::NotFound {
                    what: format!("study {study_id}"),
                }));
            }
            tx.execute(
                "DELETE FROM automl_blobs WHERE study_id = $1 AND key = $2",
                &[&s, &key],
            )?;
            tx.execute(
                "INSERT INTO automl_blobs (study_id, key, chunks, len) VALUES ($1, $2, $3, $4)",
                &[&s, &key, &n, &len],
            )?;
            write_chunks(
                &mut tx,
                "INSERT INTO automl_blob_chunks (study_id, key, chunk, data) VALUES ($1, $2, $3, $4)",
                &s,
                &key,
                &stored,
            )?;
            tx.commit()?;
            Ok(())
        })
    }
    fn delete_artifact(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        self.run("deleting an artifact", |c, _| {
            let mut tx = c.transaction()?;
            self.delete_artifact_in(&mut tx, study_id, trial_id)?;
            tx.commit()?;
            Ok(())
        })
    }
    fn mark_interrupted(&self, study_id: u64) -> Result<usize, StoreError> {
        let s = db_id(study_id);
        self.run("marking interrupted trials", |c, _| {
            let mut tx = c.transaction()?;
            let rows = tx.query(
                "SELECT trial_id, record FROM automl_trials WHERE study_id = $1 ORDER BY trial_id FOR UPDATE",
                &[&s],
            )?;
            let now = codec::now_ms();
            let mut n = 0;
            for r in &rows {
                let tid: i64 = r.try_get(0)?;
                let mut t = self.decode_trial_row(study_id, tid, r.try_get(1)?)?;
                if t.state != TrialState::Running {
                    continue;
                }
                crate::interrupt(&mut t, now);
                let bytes = codec::encode_trial(&t)?;
                tx.execute(
                    "UPDATE automl_trials SET record = $3 WHERE study_id = $1 AND trial_id = $2",
                    &[&s, &tid, &bytes],
                )?;
                n += 1;
            }
            tx.commit()?;
            Ok(n)
        })
    }
    fn apply_retention(
        &self,
        study_id: u64,
        keep_best: u64,
        metric_higher_is_better: bool,
        protect: &[u64],
    ) -> Result<usize, StoreError> {
        let victims = crate::retention_victims(
            &self.trials(study_id)?,
            keep_best,
            metric_higher_is_better,
            protect,
        );
        if victims.is_empty() {
            return Ok(0);
        }
        self.run("applying retention", |c, _| {
            let mut tx = c.transaction()?;
            for &t in &victims {
                self.delete_artifact_in(&mut tx, study_id, t)?;
            }
            tx.commit()?;
            Ok(())
        })?;
        Ok(victims.len())
    }
    fn flush(&self) -> Result<(), StoreError> {
        // Every call commits before it returns: nothing is pending.
        Ok(())
    }
    fn queue(&self) -> Option<&dyn TrialQueue> {
        Some(self)
    }
}
