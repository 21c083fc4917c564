//! Ensemble selection (Caruana et al. 2004): greedy forward selection with replacement of the
//! trials whose averaged out-of-fold predictions score best on the study's metric.

use automl_core::{Metric, Predictions, Task};
use automl_trainer::{PredictorInfo, pipeline::average};

/// Settings of the selection.
#[derive(Debug, Clone, Copy)]
pub struct EnsembleConfig {
    /// How many of the best trials are candidates.
    pub pool_size: usize,
    /// Selection rounds (each adds one member, with replacement).
    pub rounds: usize,
}

impl Default for EnsembleConfig {
    fn default() -> Self {
        EnsembleConfig {
            pool_size: 20,
            rounds: 30,
        }
    }
}

/// The chosen members (trial id, weight summing to 1) and the ensemble's out-of-fold predictions.
pub struct Selection {
    /// Members and weights.
    pub members: Vec<(u64, f64)>,
    /// Ensemble out-of-fold predictions.
    pub oof: Predictions,
    /// Out-of-fold score of the ensemble.
    pub score: f64,
}

/// Select an ensemble from `candidates` (trial id, out-of-fold predictions over the same rows
/// in the same order, sorted best first). Returns None with fewer than two candidates or when
/// the ensemble is a single member.
pub fn select(
    candidates: &[(u64, &Predictions)],
    y: &[f64],
    metric: Metric,
    task: Task,
    n_classes: usize,
    cfg: EnsembleConfig,
) -> Option<Selection> {
    let pool: Vec<&(u64, &Predictions)> = candidates.iter().take(cfg.pool_size).collect();
    if pool.len() < 2 {
        return None;
    }
    let info = PredictorInfo { task, n_classes };
    let n = y.len();
    // Running sum of member predictions (probabilities or values); a candidate ensemble is
    // (sum + p_j) / (members + 1), so each round costs one pass per candidate.
    let flat = |p: &Predictions| -> Vec<f64> {
        match &p.proba {
            Some(pr) if task.is_classification() => pr.iter().copied().collect(),
            _ => p.values.clone(),
        }
    };
    let flats: Vec<Vec<f64>> = pool.iter().map(|(_, p)| flat(p)).collect();
    let width = if task.is_classification() {
        n_classes.max(2)
    } else {
        1
    };
    if flats.iter().any(|f| f.len() != n * width) {
        return None;
    }
    let to_pred = |v: Vec<f64>| -> Predictions {
        if task.is_classification() {
            match ndarray::Array2::from_shape_vec((n, width), v) {
                Ok(a) => Predictions::from_proba(a),
                Err(_) => Predictions::regression(Vec::new()),
            }
        } else {
            Predictions::regression(v)
        }
    };
    let mut sum = vec![0.0; n * width];
    let mut counts = vec![0usize; pool.len()];
    let mut best_score = f64::NAN;
    let mut best_counts = counts.clone();
    for members in 0..cfg.rounds {
        let mut round_best: Option<(usize, f64)> = None;
        for (j, fj) in flats.iter().enumerate() {
            let m = (members + 1) as f64;
            let cand: Vec<f64> = sum.iter().zip(fj).map(|(s, p)| (s + p) / m).collect();
            let s = metric.compute(y, &to_pred(cand), n_classes);
            if s.is_finite() && round_best.is_none_or(|(_, b)| metric.better(s, b)) {
                round_best = Some((j, s));
            }
        }
        let Some((j, s)) = round_best else { break };
        counts[j] += 1;
        for (a, p) in sum.iter_mut().zip(&flats[j]) {
            *a += p;
        }
        if best_score.is_nan() || metric.better(s, best_score) {
            best_score = s;
            best_counts = counts.clone();
        }
    }
    let total: usize = best_counts.iter().sum();
    if best_counts.iter().filter(|c| **c > 0).count() < 2 {
        return None;
    }
    let members: Vec<(u64, f64)> = best_counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| (pool[i].0, *c as f64 / total as f64))
        .collect();
    let parts: Vec<(f64, Predictions)> = best_counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| (*c as f64, pool[i].1.clone()))
        .collect();
    let oof = average(&parts, info, n);
    Some(Selection {
        members,
        oof,
        score: best_score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_complementary_models_beat_each_alone() {
        // model a is right on rows 0-1, model b on rows 2-3; their average is right everywhere.
        let y = vec![0.0, 0.0, 1.0, 1.0];
        let a = Predictions::from_proba(array![[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]);
        let b = Predictions::from_proba(array![[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]]);
        let cands = vec![(1u64, &a), (2u64, &b)];
        let s = select(
            &cands,
            &y,
            Metric::LogLoss,
            Task::Binary,
            2,
            EnsembleConfig::default(),
        )
        .expect("an ensemble");
        let la = Metric::LogLoss.compute(&y, &a, 2);
        let lb = Metric::LogLoss.compute(&y, &b, 2);
        assert!(s.score < la && s.score < lb, "{} vs {la} {lb}", s.score);
        assert_eq!(s.members.len(), 2);
        let w: f64 = s.members.iter().map(|m| m.1).sum();
        assert!((w - 1.0).abs() < 1e-12);
    }

    #[test]
    fn one_candidate_is_no_ensemble() {
        let y = vec![1.0, 2.0];
        let a = Predictions::regression(vec![1.0, 2.0]);
        assert!(
            select(
                &[(0, &a)],
                &y,
                Metric::Rmse,
                Task::Regression,
                0,
                EnsembleConfig::default()
            )
            .is_none()
        );
    }
}
