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

/// Rank `trials`: complete trials with a finite score first, best first (ties: lower trial id),
/// then every other trial by id.
pub fn leaderboard(trials: &[TrialRecord], metric: Metric) -> Vec<LeaderboardRow> {
    let mut scored: Vec<&TrialRecord> = trials.iter().filter(|t| t.is_scored()).collect();
    scored.sort_by(|a, b| {
        metric
            .as_loss(a.mean)
            .total_cmp(&metric.as_loss(b.mean))
            .then(a.trial_id.cmp(&b.trial_id))
    });
    let mut rows: Vec<LeaderboardRow> = scored
        .into_iter()
        .enumerate()
        .map(|(i, t)| LeaderboardRow {
            rank: Some(i + 1),
            trial: t.clone(),
        })
        .collect();
    let mut rest: Vec<&TrialRecord> = trials.iter().filter(|t| !(t.is_scored())).collect();
    rest.sort_by_key(|t| (t.state == TrialState::Running, t.trial_id));
    rows.extend(rest.into_iter().map(|t| LeaderboardRow {
        rank: None,
        trial: t.clone(),
    }));
    rows
}
