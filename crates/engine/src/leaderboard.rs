//! The leaderboard: every trial of a study, complete ones ranked by the study's metric.

use automl_core::{Metric, TrialRecord, TrialState};

/// One row of the leaderboard.
#[derive(Debug, Clone)]
pub struct LeaderboardRow {
    /// 1-based rank among complete trials (None for failed / timed-out / running ones).
    pub rank: Option<usize>,
    /// The trial.
    pub trial: TrialRecord,
}

/// The trials given to [`leaderboard`]: borrowed (each row clones its record) or owned (the
/// records move into the rows; what a caller that only prints the board should pass, since
/// 100k records take longer to clone than to rank).
pub enum Trials<'a> {
    /// Records the caller keeps.
    Borrowed(&'a [TrialRecord]),
    /// Records the leaderboard takes.
    Owned(Vec<TrialRecord>),
}

impl<'a> From<&'a [TrialRecord]> for Trials<'a> {
    fn from(t: &'a [TrialRecord]) -> Self {
        Trials::Borrowed(t)
    }
}

impl<'a> From<&'a Vec<TrialRecord>> for Trials<'a> {
    fn from(t: &'a Vec<TrialRecord>) -> Self {
        Trials::Borrowed(t)
    }
}

impl From<Vec<TrialRecord>> for Trials<'_> {
    fn from(t: Vec<TrialRecord>) -> Self {
        Trials::Owned(t)
    }
}

/// Rank `trials`: complete trials with a finite score first, best first (ties: lower trial id),
/// then every other trial by id (running ones last). Pass the records by value (a `Vec`) when
/// they are not needed afterwards: they are then moved into the rows, not cloned.
pub fn leaderboard<'a>(trials: impl Into<Trials<'a>>, metric: Metric) -> Vec<LeaderboardRow> {
    match trials.into() {
        Trials::Borrowed(t) => rank(t.iter().collect(), metric, TrialRecord::clone),
        Trials::Owned(t) => rank(t, metric, |t| t),
    }
}

/// The ranking of [`leaderboard`] over records (`&TrialRecord` or `TrialRecord`), sorting
/// indices rather than the records themselves; `own` makes a row's record of one.
fn rank<R: std::borrow::Borrow<TrialRecord>>(
    trials: Vec<R>,
    metric: Metric,
    own: impl Fn(R) -> TrialRecord,
) -> Vec<LeaderboardRow> {
    let rec = |i: usize| trials[i].borrow();
    let (mut scored, mut rest): (Vec<usize>, Vec<usize>) =
        (0..trials.len()).partition(|&i| rec(i).is_scored());
    scored.sort_by(|&a, &b| {
        let (a, b) = (rec(a), rec(b));
        metric
            .as_loss(a.mean)
            .total_cmp(&metric.as_loss(b.mean))
            .then(a.trial_id.cmp(&b.trial_id))
    });
    rest.sort_by_key(|&i| (rec(i).state == TrialState::Running, rec(i).trial_id));
    let n_scored = scored.len();
    let mut slots: Vec<Option<R>> = trials.into_iter().map(Some).collect();
    scored
        .into_iter()
        .chain(rest)
        .enumerate()
        .filter_map(|(pos, i)| {
            slots[i].take().map(|t| LeaderboardRow {
                rank: (pos < n_scored).then_some(pos + 1),
                trial: own(t),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::{Candidate, Params, SCHEMA_VERSION};

    fn trial(id: u64, state: TrialState, mean: f64) -> TrialRecord {
        TrialRecord {
            schema_version: SCHEMA_VERSION,
            study_id: 1,
            trial_id: id,
            candidate: Candidate::new("gbdt", Params::new(), "random"),
            strategy: "random".into(),
            state,
            fold_scores: vec![mean],
            mean,
            std: 0.0,
            metrics: Default::default(),
            fit_time_s: 0.0,
            predict_time_per_row_s: 0.0,
            model_size_bytes: 0,
            has_artifact: false,
            error: None,
            seed: 0,
            started_at_ms: 0,
            ended_at_ms: 0,
            extra: Default::default(),
            ensemble: None,
        }
    }

    #[test]
    fn owned_and_borrowed_rank_alike() {
        let trials = vec![
            trial(0, TrialState::Running, f64::NAN),
            trial(1, TrialState::Complete, 0.7),
            trial(2, TrialState::Failed, f64::NAN),
            trial(3, TrialState::Complete, 0.9),
            trial(4, TrialState::Complete, f64::NAN),
            trial(5, TrialState::Complete, 0.7),
        ];
        let order = |rows: &[LeaderboardRow]| -> Vec<(Option<usize>, u64)> {
            rows.iter().map(|r| (r.rank, r.trial.trial_id)).collect()
        };
        let borrowed = leaderboard(&trials, Metric::RocAuc);
        let expected = vec![
            (Some(1), 3),
            (Some(2), 1),
            (Some(3), 5),
            (None, 2),
            (None, 4),
            (None, 0),
        ];
        assert_eq!(order(&borrowed), expected);
        assert_eq!(
            order(&leaderboard(trials.as_slice(), Metric::RocAuc)),
            expected
        );
        assert_eq!(order(&leaderboard(trials, Metric::RocAuc)), expected);
    }
}
