//! The conformance suite of [`TrialQueue`](crate::TrialQueue) implementations (public so other
//! crates can run it): claim order, concurrent claims by several handles (each entry claimed
//! once), stale tokens, lease expiry and the attempt limit, results taken once, cancel, forgetting closed entries
//! and idempotent enqueue and finish. Each check gets handles on one fresh, empty store from `make`
//! and panics with a message naming the check when the queue misbehaves.

use crate::conformance::sample_study;
use crate::{QueueCounts, QueueState, Store, StoreError, TrialQueue};
use std::collections::BTreeSet;
use std::time::Duration;

/// `make(n)`: `n` handles on one fresh, empty store whose `queue()` is Some (for PostgreSQL,
/// `n` connections to one new database; for the memory store, clones of one store).
pub type MakeHandles<'a> = &'a dyn Fn(usize) -> Vec<Box<dyn Store>>;

/// One check of the suite.
pub type Check = fn(MakeHandles<'_>);

/// A lease long enough never to expire during a test.
const LONG: Duration = Duration::from_secs(3600);

/// The names of the checks, in order (see [`crate::__conformance_names!`] for the pattern).
#[doc(hidden)]
#[macro_export]
macro_rules! __queue_conformance_names {
    ($($mode:tt)*) => {
        $crate::__suite_expand! {
            queue_conformance [$($mode)*]
            queue_is_offered,
            queue_claim_order,
            queue_enqueue_idempotent,
            queue_concurrent_claims_each_once,
            queue_stale_token_refused,
            queue_expired_lease_requeued,
            queue_attempt_limit_marks_lost,
            queue_results_taken_once,
            queue_finish_idempotent,
            queue_cancel,
            queue_forget_closed,
            queue_counts,
        }
    };
}

/// Expand the queue conformance suite into one `#[test]` per check, in a module
/// `queue_conformance`. `$make` is evaluated at the start of each test and gives an
/// `impl Fn(usize) -> Vec<Box<dyn Store>>` (see [`MakeHandles`]). For example:
///
/// ```ignore
/// automl_store::queue_conformance_tests!(|n: usize| {
///     let s = MemoryStore::new();
///     (0..n).map(|_| Box::new(s.clone()) as Box<dyn Store>).collect::<Vec<_>>()
/// });
/// ```
#[macro_export]
macro_rules! queue_conformance_tests {
    ($make:expr) => {
        /// The trial-queue conformance suite, one test per check.
        mod queue_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__queue_conformance_names!(tests $make);
        }
    };
}

/// The checks of the suite, by name.
pub const CHECKS: &[(&str, Check)] = crate::__queue_conformance_names!(checks);

/// Run the check called `name` (one of [`CHECKS`]); panics when the queue fails it.
pub fn run_check(name: &str, make: &dyn Fn(usize) -> Vec<Box<dyn Store>>) {
    let Some((_, check)) = CHECKS.iter().find(|(n, _)| *n == name) else {
        panic!("no queue conformance check named `{name}`");
    };
    check(make);
}

fn one(make: MakeHandles<'_>) -> Box<dyn Store> {
    make(1).pop().expect("make(1) gives one handle")
}

fn q(s: &dyn Store) -> &dyn TrialQueue {
    s.queue().expect("the store offers a trial queue")
}

/// A study with `n` started trials; returns its id.
fn study_with_trials(s: &dyn Store, name: &str, n: u64) -> u64 {
    let id = s.create_study(sample_study(name)).unwrap();
    for i in 0..n {
        s.start_trial(id, &crate::conformance::sample_candidate(i), "random", i)
            .unwrap();
    }
    id
}

fn payload(study: u64, trial: u64) -> Vec<u8> {
    format!("payload {study}/{trial}").into_bytes()
}

fn queue_is_offered(make: MakeHandles<'_>) {
    let s = one(make);
    assert!(s.queue().is_some(), "queue_is_offered: queue() is None");
    let id = study_with_trials(&*s, "q", 0);
    assert_eq!(q(&*s).counts(id).unwrap(), QueueCounts::default());
    assert_eq!(q(&*s).entry_state(id, 0).unwrap(), None);
    assert!(q(&*s).claim("w", None, LONG).unwrap().is_none());
    assert!(q(&*s).take_results(id).unwrap().is_empty());
    assert!(q(&*s).requeue_expired(None, 3).unwrap().is_empty());
}

fn queue_claim_order(make: MakeHandles<'_>) {
    let s = one(make);
    let a = study_with_trials(&*s, "a", 3);
    let b = study_with_trials(&*s, "b", 1);
    let queue = q(&*s);
    for (st, t) in [(b, 0), (a, 2), (a, 0), (a, 1)] {
        queue.enqueue(st, t, &payload(st, t)).unwrap();
    }
    assert_eq!(queue.entry_state(a, 2).unwrap(), Some(QueueState::Queued));
    let first_b = queue
        .claim("w1", Some(b), LONG)
        .unwrap()
        .expect("b:0 queued");
    assert_eq!(
        (first_b.study_id, first_b.trial_id),
        (b, 0),
        "claim by study"
    );
    assert!(queue.claim("w1", Some(b), LONG).unwrap().is_none());
    let mut tokens = BTreeSet::from([first_b.token]);
    for want in 0..3 {
        let l = queue
            .claim("w2", None, LONG)
            .unwrap()
            .expect("queued entry");
        assert_eq!(
            (l.study_id, l.trial_id),
            (a, want),
            "claim order: lowest study, then lowest trial"
        );
        assert_eq!(l.attempt, 1, "first claim is attempt 1");
        assert_eq!(l.payload, payload(a, want), "payload given back");
        assert!(tokens.insert(l.token), "tokens differ between claims");
        assert_eq!(
            queue.entry_state(a, want).unwrap(),
            Some(QueueState::Claimed)
        );
    }
    assert!(
        queue.claim("w2", None, LONG).unwrap().is_none(),
        "queue empty"
    );
}

fn queue_enqueue_idempotent(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "e", 1);
    let queue = q(&*s);
    queue.enqueue(id, 0, b"first").unwrap();
    queue.enqueue(id, 0, b"second").unwrap();
    assert_eq!(queue.counts(id).unwrap().queued, 1, "enqueued once");
    let l = queue.claim("w", None, LONG).unwrap().unwrap();
    assert_eq!(l.payload, b"first", "the first payload is kept");
    queue.enqueue(id, 0, b"third").unwrap();
    assert_eq!(
        queue.entry_state(id, 0).unwrap(),
        Some(QueueState::Claimed),
        "a repeated enqueue does not reset a claimed entry"
    );
    assert!(queue.claim("w", None, LONG).unwrap().is_none());
    let r = queue.enqueue(id + 100, 0, b"x");
    assert!(
        matches!(r, Err(StoreError::NotFound { .. })),
        "enqueue for an unknown study: {r:?}"
    );
}

fn queue_concurrent_claims_each_once(make: MakeHandles<'_>) {
    const N: u64 = 60;
    let handles = make(4);
    let id = study_with_trials(&*handles[0], "c", N);
    for t in 0..N {
        q(&*handles[0]).enqueue(id, t, &payload(id, t)).unwrap();
    }
    let claimed: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let joins: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(w, h)| {
                scope.spawn(move || {
                    let queue = q(&**h);
                    let worker = format!("worker-{w}");
                    let mut mine = Vec::new();
                    while let Some(l) = queue.claim(&worker, Some(id), LONG).unwrap() {
                        assert_eq!(l.payload, payload(id, l.trial_id));
                        assert!(queue.finish(&l, worker.as_bytes()).unwrap());
                        mine.push(l.trial_id);
                    }
                    mine
                })
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = claimed.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..N).collect::<Vec<_>>(),
        "every entry claimed exactly once"
    );
    let results = q(&*handles[1]).take_results(id).unwrap();
    assert_eq!(results.len(), N as usize);
    for r in &results {
        let by = claimed
            .iter()
            .position(|c| c.contains(&r.trial_id))
            .unwrap();
        assert_eq!(r.worker, format!("worker-{by}"), "trial {}", r.trial_id);
        assert_eq!(r.result.as_deref(), Some(r.worker.as_bytes()));
        assert_eq!(r.attempts, 1);
    }
}

fn queue_stale_token_refused(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "s", 1);
    let queue = q(&*s);
    queue.enqueue(id, 0, b"p").unwrap();
    let l = queue.claim("w", None, LONG).unwrap().unwrap();
    let mut stale = l.clone();
    stale.token = l.token.wrapping_add(1);
    assert!(!queue.renew(&stale, LONG).unwrap(), "renew, wrong token");
    assert!(!queue.finish(&stale, b"r").unwrap(), "finish, wrong token");
    assert_eq!(queue.entry_state(id, 0).unwrap(), Some(QueueState::Claimed));
    assert!(queue.renew(&l, LONG).unwrap(), "renew, right token");
    let mut other = l.clone();
    other.trial_id = 5;
    assert!(!queue.renew(&other, LONG).unwrap(), "renew of no entry");
    assert!(!queue.finish(&other, b"r").unwrap(), "finish of no entry");
    assert!(queue.finish(&l, b"r").unwrap());
    assert!(!queue.renew(&l, LONG).unwrap(), "renew of a done entry");
}

fn queue_expired_lease_requeued(make: MakeHandles<'_>) {
    let s = one(make);
    let a = study_with_trials(&*s, "a", 2);
    let b = study_with_trials(&*s, "b", 1);
    let queue = q(&*s);
    queue.enqueue(a, 0, b"p0").unwrap();
    queue.enqueue(a, 1, b"p1").unwrap();
    queue.enqueue(b, 0, b"pb").unwrap();
    let dead = queue.claim("w1", Some(a), Duration::ZERO).unwrap().unwrap();
    let live = queue.claim("w2", Some(a), LONG).unwrap().unwrap();
    let other = queue.claim("w3", Some(b), Duration::ZERO).unwrap().unwrap();
    assert_eq!((dead.trial_id, live.trial_id), (0, 1));
    assert_eq!(
        queue.requeue_expired(Some(a), 3).unwrap(),
        [(a, 0)],
        "only the expired lease of study a"
    );
    assert_eq!(queue.entry_state(a, 0).unwrap(), Some(QueueState::Queued));
    assert_eq!(queue.entry_state(a, 1).unwrap(), Some(QueueState::Claimed));
    assert_eq!(queue.entry_state(b, 0).unwrap(), Some(QueueState::Claimed));
    assert!(!queue.renew(&dead, LONG).unwrap(), "renew after requeue");
    assert!(
        !queue.finish(&dead, b"late").unwrap(),
        "finish after requeue"
    );
    let again = queue.claim("w4", Some(a), LONG).unwrap().unwrap();
    assert_eq!(again.trial_id, 0);
    assert_eq!(again.attempt, 2, "the second claim is attempt 2");
    assert_eq!(again.payload, b"p0");
    assert_ne!(again.token, dead.token);
    assert!(
        !queue.finish(&dead, b"late").unwrap(),
        "the old lease stays dead"
    );
    assert!(queue.finish(&again, b"ok").unwrap());
    assert_eq!(
        queue.requeue_expired(None, 3).unwrap(),
        [(b, other.trial_id)]
    );
    let r = queue.take_results(a).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].trial_id, r[0].attempts), (0, 2));
    assert_eq!(r[0].worker, "w4");
    assert_eq!(r[0].result.as_deref(), Some(&b"ok"[..]));
}

fn queue_attempt_limit_marks_lost(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "l", 2);
    let queue = q(&*s);
    queue.enqueue(id, 0, b"p").unwrap();
    queue.enqueue(id, 1, b"p").unwrap();
    for attempt in 1..=2 {
        let l = queue.claim("w", Some(id), Duration::ZERO).unwrap().unwrap();
        assert_eq!((l.trial_id, l.attempt), (0, attempt));
        assert_eq!(queue.requeue_expired(Some(id), 2).unwrap(), [(id, 0)]);
    }
    assert_eq!(queue.entry_state(id, 0).unwrap(), Some(QueueState::Lost));
    let l = queue.claim("w", Some(id), LONG).unwrap().unwrap();
    assert_eq!(l.trial_id, 1, "a lost entry is never claimed again");
    assert!(queue.requeue_expired(Some(id), 2).unwrap().is_empty());
    let r = queue.take_results(id).unwrap();
    assert_eq!(r.len(), 1, "the lost entry is a result: {r:?}");
    assert_eq!(r[0].trial_id, 0);
    assert_eq!(r[0].attempts, 2);
    assert_eq!(r[0].result, None, "a lost entry has no result");
    assert_eq!(r[0].worker, "", "a lost entry has no worker");
    assert_eq!(queue.entry_state(id, 0).unwrap(), Some(QueueState::Closed));
}

fn queue_results_taken_once(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "t", 3);
    let queue = q(&*s);
    for t in 0..3 {
        queue.enqueue(id, t, b"p").unwrap();
    }
    let leases: Vec<_> = (0..3)
        .map(|_| queue.claim("w", None, LONG).unwrap().unwrap())
        .collect();
    assert!(queue.finish(&leases[2], b"r2").unwrap());
    assert!(queue.finish(&leases[0], b"r0").unwrap());
    let r = queue.take_results(id).unwrap();
    assert_eq!(
        r.iter().map(|x| x.trial_id).collect::<Vec<_>>(),
        [0, 2],
        "done entries by trial id"
    );
    assert_eq!(r[0].result.as_deref(), Some(&b"r0"[..]));
    assert_eq!(r[1].result.as_deref(), Some(&b"r2"[..]));
    assert!(queue.take_results(id).unwrap().is_empty(), "taken once");
    assert_eq!(queue.entry_state(id, 0).unwrap(), Some(QueueState::Closed));
    assert!(queue.finish(&leases[1], b"r1").unwrap());
    let r = queue.take_results(id).unwrap();
    assert_eq!(r.iter().map(|x| x.trial_id).collect::<Vec<_>>(), [1]);
    assert_eq!(queue.counts(id).unwrap(), QueueCounts::default());
}

fn queue_finish_idempotent(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "f", 1);
    let queue = q(&*s);
    queue.enqueue(id, 0, b"p").unwrap();
    let l = queue.claim("w", None, LONG).unwrap().unwrap();
    assert!(queue.finish(&l, b"result").unwrap());
    assert!(queue.finish(&l, b"result").unwrap(), "a retried finish");
    assert_eq!(queue.entry_state(id, 0).unwrap(), Some(QueueState::Done));
    let r = queue.take_results(id).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].result.as_deref(), Some(&b"result"[..]));
    assert!(
        queue.finish(&l, b"result").unwrap(),
        "a retried finish after the result was taken"
    );
    assert!(queue.take_results(id).unwrap().is_empty());
}

fn queue_cancel(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "x", 3);
    let queue = q(&*s);
    for t in 0..3 {
        queue.enqueue(id, t, b"p").unwrap();
    }
    queue.cancel(id, 0).unwrap();
    assert_eq!(queue.entry_state(id, 0).unwrap(), Some(QueueState::Closed));
    let l = queue.claim("w", None, LONG).unwrap().unwrap();
    assert_eq!(l.trial_id, 1, "a cancelled entry is not claimed");
    queue.cancel(id, 1).unwrap();
    assert!(!queue.renew(&l, LONG).unwrap(), "renew after cancel");
    assert!(!queue.finish(&l, b"r").unwrap(), "finish after cancel");
    queue.cancel(id, 1).unwrap();
    queue.cancel(id, 9).unwrap();
    assert_eq!(
        queue.entry_state(id, 9).unwrap(),
        None,
        "cancel creates nothing"
    );
    assert!(
        queue.take_results(id).unwrap().is_empty(),
        "no result of a cancelled entry"
    );
    let c = queue.counts(id).unwrap();
    assert_eq!((c.queued, c.claimed, c.done), (1, 0, 0));
}

fn queue_forget_closed(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "f", 4);
    let queue = q(&*s);
    for t in 0..4 {
        queue.enqueue(id, t, b"p").unwrap();
    }
    // Entry 0 done and taken, entry 1 cancelled: both closed. Entry 2 claimed, 3 queued.
    let l0 = queue.claim("w", Some(id), LONG).unwrap().unwrap();
    assert!(queue.finish(&l0, b"r0").unwrap());
    assert_eq!(queue.take_results(id).unwrap().len(), 1);
    queue.cancel(id, 1).unwrap();
    let l2 = queue.claim("w", Some(id), LONG).unwrap().unwrap();
    assert_eq!(l2.trial_id, 2);
    for t in 0..4 {
        queue.forget_closed(id, t).unwrap();
    }
    queue.forget_closed(id, 9).unwrap();
    assert_eq!(
        queue.entry_state(id, 0).unwrap(),
        None,
        "a taken entry is forgotten"
    );
    assert_eq!(
        queue.entry_state(id, 1).unwrap(),
        None,
        "a cancelled entry is forgotten"
    );
    assert_eq!(
        queue.entry_state(id, 2).unwrap(),
        Some(QueueState::Claimed),
        "a claimed entry is kept"
    );
    assert_eq!(
        queue.entry_state(id, 3).unwrap(),
        Some(QueueState::Queued),
        "a queued entry is kept"
    );
    assert!(queue.renew(&l2, LONG).unwrap(), "its lease still holds");
    // A forgotten entry is enqueued anew and claimed again, from its first attempt.
    queue.enqueue(id, 0, b"again").unwrap();
    let l3 = queue.claim("w", Some(id), LONG).unwrap().unwrap();
    assert_eq!(l3.trial_id, 0, "the lowest trial id first");
    assert_eq!((l3.attempt, l3.payload.as_slice()), (1, &b"again"[..]));
    assert!(
        !queue.finish(&l0, b"stale").unwrap(),
        "the old claim's token is dead"
    );
}

fn queue_counts(make: MakeHandles<'_>) {
    let s = one(make);
    let id = study_with_trials(&*s, "n", 6);
    let other = study_with_trials(&*s, "o", 1);
    let queue = q(&*s);
    for t in 0..6 {
        queue.enqueue(id, t, b"p").unwrap();
    }
    queue.enqueue(other, 0, b"p").unwrap();
    let l0 = queue.claim("w1", Some(id), LONG).unwrap().unwrap();
    queue.claim("w1", Some(id), LONG).unwrap().unwrap();
    queue.claim("w2", Some(id), LONG).unwrap().unwrap();
    assert!(queue.finish(&l0, b"r").unwrap());
    assert_eq!(
        queue.counts(id).unwrap(),
        QueueCounts {
            queued: 3,
            claimed: 2,
            done: 1,
            workers: 2
        }
    );
    assert_eq!(
        queue.counts(other).unwrap(),
        QueueCounts {
            queued: 1,
            ..Default::default()
        }
    );
}
