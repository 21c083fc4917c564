//! The trial queue of the PostgreSQL store (`automl_queue`): claims with
//! `FOR UPDATE SKIP LOCKED`, leases timed by the server's clock (`now()`), client-chosen
//! tokens and take ids so that a call retried after a lost connection finds its own work.

use super::{Fail, PgStore, db_id, nonce, read_id};
use crate::queue::{Lease, QueueCounts, QueueResult, QueueState, TrialQueue};
use crate::{StoreError, codec};
use std::time::Duration;

const QUEUED: i16 = 0;
const CLAIMED: i16 = 1;
const DONE: i16 = 2;
const LOST: i16 = 3;
const CLOSED: i16 = 4;

fn state(code: i16, study_id: u64, trial_id: u64) -> Result<QueueState, StoreError> {
    Ok(match code {
        QUEUED => QueueState::Queued,
        CLAIMED => QueueState::Claimed,
        DONE => QueueState::Done,
        LOST => QueueState::Lost,
        CLOSED => QueueState::Closed,
        other => {
            return Err(StoreError::Corrupt {
                what: format!("the queue entry of trial {trial_id} in study {study_id}"),
                reason: format!("unknown state {other}"),
            });
        }
    })
}

/// Seconds of a lease, as the `double precision` PostgreSQL's `make_interval` takes (capped at
/// a century).
fn secs(d: Duration) -> f64 {
    d.as_secs_f64().min(100.0 * 365.0 * 86_400.0)
}

fn attempts(v: i32, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("negative attempt count {v}"),
    })
}

/// A stored token as the `Lease` carries it.
fn token(v: i64) -> u64 {
    v as u64
}

impl TrialQueue for PgStore {
    fn enqueue(&self, study_id: u64, trial_id: u64, payload: &[u8]) -> Result<(), StoreError> {
        let (s, t) = (db_id(study_id), db_id(trial_id));
        self.run("enqueueing a trial", |c, _| {
            match c.execute(
                "INSERT INTO automl_queue (study_id, trial_id, state, payload) VALUES ($1, $2, 0, $3) \
                 ON CONFLICT DO NOTHING",
                &[&s, &t, &payload],
            ) {
                Ok(_) => Ok(()),
                Err(e) if e.code().is_some_and(|c| c.code() == "23503") => {
                    Err(Fail::Store(StoreError::NotFound {
                        what: format!("study {study_id}"),
                    }))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn claim(
        &self,
        worker: &str,
        study: Option<u64>,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let tok = nonce();
        let study = study.map(db_id);
        let rows = self.run("claiming a trial", |c, retried| {
            if retried {
                let mine = c.query(
                    "SELECT study_id, trial_id, attempts, payload FROM automl_queue \
                     WHERE token = $1 AND state = 1",
                    &[&tok],
                )?;
                if !mine.is_empty() {
                    return Ok(mine);
                }
            }
            Ok(c.query(
                "WITH next AS (
                    SELECT study_id, trial_id FROM automl_queue
                    WHERE state = 0 AND ($1::bigint IS NULL OR study_id = $1)
                    ORDER BY study_id, trial_id
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED)
                 UPDATE automl_queue q
                 SET state = 1, attempts = q.attempts + 1, token = $2, worker = $3,
                     lease_until = now() + make_interval(secs => $4)
                 FROM next
                 WHERE q.study_id = next.study_id AND q.trial_id = next.trial_id
                 RETURNING q.study_id, q.trial_id, q.attempts, q.payload",
                &[&study, &tok, &worker, &secs(lease)],
            )?)
        })?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let err = |e: postgres::Error| self.db_error("claiming a trial", &e);
        let study_id = read_id(r.try_get(0).map_err(err)?, "a queue entry")?;
        let trial_id = read_id(r.try_get(1).map_err(err)?, "a queue entry")?;
        let what = format!("the queue entry of trial {trial_id} in study {study_id}");
        Ok(Some(Lease {
            study_id,
            trial_id,
            token: token(tok),
            attempt: attempts(r.try_get(2).map_err(err)?, &what)?,
            payload: r.try_get(3).map_err(err)?,
        }))
    }

    fn renew(&self, lease: &Lease, lease_dur: Duration) -> Result<bool, StoreError> {
        let (s, t, tok) = (
            db_id(lease.study_id),
            db_id(lease.trial_id),
            lease.token as i64,
        );
        self.run("renewing a lease", |c, _| {
            let n = c.execute(
                "UPDATE automl_queue SET lease_until = now() + make_interval(secs => $4) \
                 WHERE study_id = $1 AND trial_id = $2 AND token = $3 AND state = 1",
                &[&s, &t, &tok, &secs(lease_dur)],
            )?;
            Ok(n == 1)
        })
    }

    fn finish(&self, lease: &Lease, result: &[u8]) -> Result<bool, StoreError> {
        let (s, t, tok) = (
            db_id(lease.study_id),
            db_id(lease.trial_id),
            lease.token as i64,
        );
        // Compressed like artifacts (lz4); the column is stored without PostgreSQL's own
        // (slower) compression.
        let result = codec::compress(result);
        self.run("finishing a queue entry", |c, _| {
            let n = c.execute(
                "UPDATE automl_queue SET state = 2, finished_by = token, result = $4, lease_until = NULL \
                 WHERE study_id = $1 AND trial_id = $2 AND token = $3 AND state = 1",
                &[&s, &t, &tok, &result],
            )?;
            if n == 1 {
                return Ok(true);
            }
            // Finished already by this lease (a retried call), or not this worker's any more.
            let row = c.query_opt(
                "SELECT finished_by = $3 FROM automl_queue WHERE study_id = $1 AND trial_id = $2",
                &[&s, &t, &tok],
            )?;
            Ok(match row {
                Some(r) => r.try_get::<_, Option<bool>>(0)?.unwrap_or(false),
                None => false,
            })
        })
    }

    fn requeue_expired(
        &self,
        study: Option<u64>,
        max_attempts: u32,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let study = study.map(db_id);
        let max = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        let rows = self.run("requeueing expired leases", |c, _| {
            Ok(c.query(
                "UPDATE automl_queue
                 SET state = CASE WHEN attempts >= $2 THEN 3 ELSE 0 END,
                     worker = CASE WHEN attempts >= $2 THEN '' ELSE worker END,
                     lease_until = NULL
                 WHERE state = 1 AND lease_until <= now() AND ($1::bigint IS NULL OR study_id = $1)
                 RETURNING study_id, trial_id",
                &[&study, &max],
            )?)
        })?;
        let mut out = rows
            .iter()
            .map(|r| {
                let err = |e: postgres::Error| self.db_error("requeueing expired leases", &e);
                Ok((
                    read_id(r.try_get(0).map_err(err)?, "a queue entry")?,
                    read_id(r.try_get(1).map_err(err)?, "a queue entry")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_unstable();
        Ok(out)
    }

    fn take_results(&self, study_id: u64) -> Result<Vec<QueueResult>, StoreError> {
        let take = nonce();
        let s = db_id(study_id);
        let rows = self.run("taking results", |c, _| {
            let mut tx = c.transaction()?;
            // Results closed by earlier calls are dropped now (kept until then so that a call
            // retried after a lost connection still gets them).
            tx.execute(
                "UPDATE automl_queue SET result = NULL \
                 WHERE study_id = $1 AND state = 4 AND taken_by <> $2 AND result IS NOT NULL",
                &[&s, &take],
            )?;
            tx.execute(
                "UPDATE automl_queue SET state = 4, taken_by = $2, payload = '' \
                 WHERE study_id = $1 AND state IN (2, 3)",
                &[&s, &take],
            )?;
            let rows = tx.query(
                "SELECT trial_id, attempts, worker, result FROM automl_queue \
                 WHERE study_id = $1 AND taken_by = $2 ORDER BY trial_id",
                &[&s, &take],
            )?;
            tx.commit()?;
            Ok(rows)
        })?;
        rows.iter()
            .map(|r| {
                let err = |e: postgres::Error| self.db_error("taking results", &e);
                let trial_id = read_id(r.try_get(0).map_err(err)?, "a queue entry")?;
                let what = format!("the queue entry of trial {trial_id} in study {study_id}");
                Ok(QueueResult {
                    trial_id,
                    attempts: attempts(r.try_get(1).map_err(err)?, &what)?,
                    worker: r.try_get(2).map_err(err)?,
                    result: r
                        .try_get::<_, Option<Vec<u8>>>(3)
                        .map_err(err)?
                        .map(|packed| codec::decompress(&packed, &what))
                        .transpose()?,
                })
            })
            .collect()
    }

    fn cancel(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        let (s, t) = (db_id(study_id), db_id(trial_id));
        self.run("cancelling a queue entry", |c, _| {
            c.execute(
                "UPDATE automl_queue SET state = 4, lease_until = NULL, result = NULL, taken_by = NULL \
                 WHERE study_id = $1 AND trial_id = $2",
                &[&s, &t],
            )?;
            Ok(())
        })
    }

    fn forget_closed(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        let (s, t) = (db_id(study_id), db_id(trial_id));
        self.run("removing a closed queue entry", |c, _| {
            c.execute(
                "DELETE FROM automl_queue WHERE study_id = $1 AND trial_id = $2 AND state = 4",
                &[&s, &t],
            )?;
            Ok(())
        })
    }

    fn entry_state(&self, study_id: u64, trial_id: u64) -> Result<Option<QueueState>, StoreError> {
        let row = self.run("reading a queue entry", |c, _| {
            Ok(c.query_opt(
                "SELECT state FROM automl_queue WHERE study_id = $1 AND trial_id = $2",
                &[&db_id(study_id), &db_id(trial_id)],
            )?)
        })?;
        match row {
            Some(r) => {
                let code: i16 = r
                    .try_get(0)
                    .map_err(|e| self.db_error("reading a queue entry", &e))?;
                Ok(Some(state(code, study_id, trial_id)?))
            }
            None => Ok(None),
        }
    }

    fn counts(&self, study_id: u64) -> Result<QueueCounts, StoreError> {
        let row = self.run("counting queue entries", |c, _| {
            Ok(c.query_one(
                "SELECT count(*) FILTER (WHERE state = 0),
                        count(*) FILTER (WHERE state = 1),
                        count(*) FILTER (WHERE state IN (2, 3)),
                        count(DISTINCT worker) FILTER (WHERE state = 1)
                 FROM automl_queue WHERE study_id = $1",
                &[&db_id(study_id)],
            )?)
        })?;
        let get = |i: usize| -> Result<u64, StoreError> {
            let n: i64 = row
                .try_get(i)
                .map_err(|e| self.db_error("counting queue entries", &e))?;
            Ok(n.max(0) as u64)
        };
        Ok(QueueCounts {
            queued: get(0)?,
            claimed: get(1)?,
            done: get(2)?,
            workers: get(3)?,
        })
    }
}
