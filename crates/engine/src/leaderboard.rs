//! The leaderboard: every trial of a study, complete ones ranked by the study's metric (those
//! scored on fewer folds than the study's listed after them, unranked).

use automl_core::{Metric, TrialRecord, TrialState};

/// One row of the leaderboard.
#[derive(Debug, Clone)]
pub struct LeaderboardRow {
    /// 1-based rank among complete trials (None for failed / timed-out / running ones).
    pub rank: Option<usize>,
    /// The trial.
    pub trial: TrialRecord,
}

/// Rank `trials`: complete trials with a finite score on every fold first, best first (ties:
/// lower trial id); then, unranked, those scored on fewer folds (fold fidelity, see
/// [`TrialRecord::is_ranked`]), best first; then every other trial by id (running ones last). Each row clones its record; a caller that
/// only prints the board should pass the records to [`leaderboard_owned`] instead.
pub fn leaderboard(trials: &[TrialRecord], metric: Metric) -> Vec<LeaderboardRow> {
    leaderboard_owned(trials.to_vec(), metric)
}

/// [`leaderboard`] over records it takes: they move into the rows (100k records take longer
/// to clone than to rank). Indices are sorted, not the records.
pub fn leaderboard_owned(trials: Vec<TrialRecord>, metric: Metric) -> Vec<LeaderboardRow> {
    let (mut scored, mut rest): (Vec<usize>, Vec<usize>) =
        (0..trials.len()).partition(|&i| trials[i].is_scored());
    let n_scored = scored.iter().filter(|&&i| trials[i].is_ranked()).count();
    scored.sort_by(|&a, &b| {
        let (a, b) = (&trials[a], &trials[b]);
        b.is_ranked()
            .cmp(&a.is_ranked())
            .then(metric.as_loss(a.mean).total_cmp(&metric.as_loss(b.mean)))
            .then(a.trial_id.cmp(&b.trial_id))
    });
    rest.sort_by_key(|&i| (trials[i].state == TrialState::Running, trials[i].trial_id));
    let mut slots: Vec<Option<TrialRecord>> = trials.into_iter().map(Some).collect();
    scored
        .into_iter()
        .chain(rest)
        .enumerate()
        .filter_map(|(pos, i)| {
            Some(LeaderboardRow {
                rank: (pos < n_scored).then_some(pos + 1),
                trial: slots[i].take()?,
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
        assert_eq!(order(&leaderboard_owned(trials, Metric::RocAuc)), expected);
    }

    #[test]
    fn trials_on_fewer_folds_follow_the_ranked_ones_unranked() {
        let one_fold = |id: u64, mean: f64| {
            let mut t = trial(id, TrialState::Complete, mean);
            t.candidate.folds = Some(1);
            t
        };
        let trials = vec![
            one_fold(0, 0.99),
            trial(1, TrialState::Complete, 0.7),
            trial(2, TrialState::Failed, f64::NAN),
            one_fold(3, 0.5),
            trial(4, TrialState::Complete, 0.8),
            one_fold(5, 0.95),
        ];
        let rows = leaderboard(&trials, Metric::RocAuc);
        let order: Vec<(Option<usize>, u64)> =
            rows.iter().map(|r| (r.rank, r.trial.trial_id)).collect();
        assert_eq!(
            order,
            vec![
                (Some(1), 4),
                (Some(2), 1),
                (None, 0),
                (None, 5),
                (None, 3),
                (None, 2),
            ]
        );
    }
}
