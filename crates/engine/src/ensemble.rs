//! Ensemble selection (Caruana et al. 2004): greedy forward selection with replacement of the
//! trials whose averaged out-of-fold predictions score best on the study's metric.

use automl_core::{Metric, Predictions, Task};

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

/// The chosen members (trial id, weight summing to 1) and their in-sample out-of-fold score.
pub struct Selection {
    /// Members and weights.
    pub members: Vec<(u64, f64)>,
    /// Score of these weights on the rows that chose them (optimistic: the study scores the
    /// ensemble with [`cross_validated`] instead).
    pub score: f64,
}

/// Layout of the flattened predictions: probabilities row by row (classification, `width`
/// classes) or one value per row (regression).
#[derive(Clone, Copy)]
struct Shape {
    task: Task,
    n_classes: usize,
    width: usize,
}

impl Shape {
    fn new(task: Task, n_classes: usize) -> Shape {
        let width = if task.is_classification() {
            n_classes.max(2)
        } else {
            1
        };
        Shape {
            task,
            n_classes,
            width,
        }
    }

    fn flat(&self, p: &Predictions) -> Vec<f64> {
        match &p.proba {
            Some(pr) if self.task.is_classification() => pr.iter().copied().collect(),
            _ => p.values.clone(),
        }
    }

    fn predictions(&self, v: Vec<f64>) -> Predictions {
        if self.task.is_classification() {
            let n = v.len() / self.width;
            match ndarray::Array2::from_shape_vec((n, self.width), v) {
                Ok(a) => Predictions::from_proba(a),
                Err(_) => Predictions::regression(Vec::new()),
            }
        } else {
            Predictions::regression(v)
        }
    }

    /// Overwrite `pred` (made by [`Shape::predictions`] for `sum.len()` values) with the blend
    /// `(sum + p) / m`, in place: the same predictions `predictions` would make of it, without
    /// allocating (one greedy step evaluates every candidate this way).
    fn blend_into(&self, pred: &mut Predictions, sum: &[f64], p: &[f64], m: f64) {
        fn blend<'a>(dst: impl Iterator<Item = &'a mut f64>, sum: &[f64], p: &[f64], m: f64) {
            for ((d, s), q) in dst.zip(sum).zip(p) {
                *d = (s + q) / m;
            }
        }
        match pred.proba.as_mut() {
            // Row by row, as `flat` lays the probabilities out (a slice when contiguous, as
            // `predictions` makes it: the faster loop).
            Some(a) => {
                match a.as_slice_mut() {
                    Some(flat) => blend(flat.iter_mut(), sum, p, m),
                    None => blend(a.iter_mut(), sum, p, m),
                }
                pred.refresh_values();
            }
            None => blend(pred.values.iter_mut(), sum, p, m),
        }
    }

    /// The rows `rows` of a flattened prediction.
    fn rows(&self, flat: &[f64], rows: &[usize]) -> Vec<f64> {
        rows.iter()
            .flat_map(|&r| flat[r * self.width..(r + 1) * self.width].iter().copied())
            .collect()
    }
}

/// Greedy forward selection with replacement on flattened predictions: how often each
/// candidate was picked in the best round (possibly one candidate only) and that round's score.
fn greedy(
    flats: &[Vec<f64>],
    y: &[f64],
    metric: Metric,
    shape: Shape,
    rounds: usize,
) -> Option<(Vec<usize>, f64)> {
    let n = y.len();
    if flats.is_empty() || flats.iter().any(|f| f.len() != n * shape.width) {
        return None;
    }
    // Running sum of member predictions (probabilities or values); a candidate ensemble is
    // (sum + p_j) / (members + 1), so each round costs one pass per candidate.
    let mut sum = vec![0.0; n * shape.width];
    let mut counts = vec![0usize; flats.len()];
    let mut best: Option<(Vec<usize>, f64)> = None;
    let mut cand = shape.predictions(vec![0.0; n * shape.width]);
    for members in 0..rounds {
        let mut round_best: Option<(usize, f64)> = None;
        for (j, fj) in flats.iter().enumerate() {
            let m = (members + 1) as f64;
            shape.blend_into(&mut cand, &sum, fj, m);
            let s = metric.compute(y, &cand, shape.n_classes);
            if s.is_finite() && round_best.is_none_or(|(_, b)| metric.better(s, b)) {
                round_best = Some((j, s));
            }
        }
        let Some((j, s)) = round_best else { break };
        counts[j] += 1;
        for (a, p) in sum.iter_mut().zip(&flats[j]) {
            *a += p;
        }
        if best.as_ref().is_none_or(|(_, b)| metric.better(s, *b)) {
            best = Some((counts.clone(), s));
        }
    }
    best
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
    let shape = Shape::new(task, n_classes);
    let flats: Vec<Vec<f64>> = pool.iter().map(|(_, p)| shape.flat(p)).collect();
    let (best_counts, best_score) = greedy(&flats, y, metric, shape, cfg.rounds)?;
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
    Some(Selection {
        members,
        score: best_score,
    })
}

/// Honest out-of-fold predictions of ensemble selection itself. The weights [`select`] finds
/// were chosen on the very out-of-fold rows its score is computed on, so that score flatters
/// the ensemble (on titanic: CV above the best single trial, test 0.008 AUC below it). Here,
/// for each fold (a set of row indices; the folds partition the rows), selection runs on the
/// other folds' rows only, and its weights average the candidates' predictions on the fold's
/// rows; no row's prediction has used that row's label to choose weights. (The pool, the best `pool_size` trials, is still
/// ranked on all rows.) When a fold's selection keeps a single candidate, that candidate
/// predicts the fold.
pub fn cross_validated(
    candidates: &[(u64, &Predictions)],
    y: &[f64],
    folds: &[Vec<usize>],
    metric: Metric,
    task: Task,
    n_classes: usize,
    cfg: EnsembleConfig,
) -> Option<Predictions> {
    let pool: Vec<&(u64, &Predictions)> = candidates.iter().take(cfg.pool_size).collect();
    let n = y.len();
    let mut fold_of = vec![usize::MAX; n];
    for (k, f) in folds.iter().enumerate() {
        for &i in f {
            if i >= n || fold_of[i] != usize::MAX {
                return None;
            }
            fold_of[i] = k;
        }
    }
    if pool.len() < 2 || folds.len() < 2 || fold_of.contains(&usize::MAX) {
        return None;
    }
    let shape = Shape::new(task, n_classes);
    let flats: Vec<Vec<f64>> = pool.iter().map(|(_, p)| shape.flat(p)).collect();
    if flats.iter().any(|f| f.len() != n * shape.width) {
        return None;
    }
    let mut out = vec![0.0; n * shape.width];
    let wd = shape.width;
    for (k, fold) in folds.iter().enumerate() {
        let inner: Vec<usize> = (0..n).filter(|&i| fold_of[i] != k).collect();
        let y_inner: Vec<f64> = inner.iter().map(|&i| y[i]).collect();
        let sub: Vec<Vec<f64>> = flats.iter().map(|f| shape.rows(f, &inner)).collect();
        let (counts, _) = greedy(&sub, &y_inner, metric, shape, cfg.rounds)?;
        let total = counts.iter().sum::<usize>() as f64;
        for (c, f) in counts.iter().zip(&flats) {
            if *c == 0 {
                continue;
            }
            let w = *c as f64 / total;
            for &i in fold {
                for (d, s) in out[i * wd..(i + 1) * wd]
                    .iter_mut()
                    .zip(&f[i * wd..(i + 1) * wd])
                {
                    *d += w * s;
                }
            }
        }
    }
    Some(shape.predictions(out))
}

/// An ensemble selected on pooled out-of-fold predictions and scored honestly beside its
/// rival (see [`select_and_score`]).
#[derive(Debug, Clone)]
pub struct ScoredEnsemble {
    /// Members (trial id, weight) of the selection on all rows.
    pub members: Vec<(u64, f64)>,
    /// Per validation fold: the cross-validated selection's score.
    pub fold_scores: Vec<f64>,
    /// Mean of the fold scores (as every trial's CV score).
    pub mean: f64,
    /// Their spread.
    pub std: f64,
    /// Every metric of the task on the cross-validated selection's predictions.
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// The same cross-validation of picking one trial (rounds = 1): the ensemble's rival.
    pub single_selection_cv: f64,
    /// The cross-validated selection's predictions (each fold's rows blended with weights
    /// chosen on the other folds), in the candidates' row order: the out-of-fold predictions
    /// the final model's post-processing is fitted on.
    pub honest: Predictions,
}

/// Select an ensemble from `candidates` (trial id, out-of-fold predictions over the rows of
/// the validation folds, concatenated in fold order; `fold_lens` gives each fold's length)
/// and score it honestly: per fold, the selection is re-run on the other folds' rows and its
/// weights predict the fold ([`cross_validated`]); with a single holdout fold, over 5
/// interleaved parts of it. Its rival is the same cross-validation of picking one candidate,
/// not the best trial's own CV score, which is the maximum over every trial of the study and
/// so biased upward (winner's curse; titanic at 60 s: 1,177 trials, the top five gbdt within
/// 0.001 AUC of each other). `Err` says why there is no ensemble to store.
pub fn select_and_score(
    candidates: &[(u64, &Predictions)],
    y: &[f64],
    fold_lens: &[usize],
    metric: Metric,
    task: Task,
    n_classes: usize,
) -> Result<ScoredEnsemble, String> {
    if candidates.len() < 2 {
        return Err(format!(
            "no ensemble: {} trial(s) with out-of-fold predictions, at least 2 are needed",
            candidates.len()
        ));
    }
    let cfg = EnsembleConfig::default();
    let Some(sel) = select(candidates, y, metric, task, n_classes, cfg) else {
        return Err(format!(
            "no ensemble: selection over the best {} trials kept a single trial",
            candidates.len().min(cfg.pool_size)
        ));
    };
    let (folds, parts) = folds_and_parts(fold_lens, y.len());
    let honest_of = |rounds: usize| {
        cross_validated(
            candidates,
            y,
            &parts,
            metric,
            task,
            n_classes,
            EnsembleConfig { rounds, ..cfg },
        )
    };
    let (Some(honest), Some(single)) = (honest_of(cfg.rounds), honest_of(1)) else {
        return Err("no ensemble: its cross-validation could not be computed".to_string());
    };
    let score = |pred: &Predictions| {
        let (fold_scores, mean, std) = score_by_fold(pred, y, &folds, metric, n_classes);
        (fold_scores, mean, std)
    };
    let (fold_scores, mean, std) = score(&honest);
    let (_, single_selection_cv, _) = score(&single);
    Ok(ScoredEnsemble {
        members: sel.members,
        fold_scores,
        mean,
        std,
        metrics: Metric::for_task(task)
            .iter()
            .map(|m| (m.name().to_string(), m.compute(y, &honest, n_classes)))
            .collect(),
        single_selection_cv,
        honest,
    })
}

/// Metric evaluations the study's ensemble scoring makes, in units of one evaluation on all
/// `n` out-of-fold rows: [`select`] on all rows (`rounds` x `n_candidates`), then
/// [`cross_validated`] twice over `n_parts` parts, with `rounds` and with 1 round (the
/// single-pick rival), each part's selection on the other parts' rows.
pub fn selection_evaluations(n_candidates: usize, n_parts: usize, rounds: usize) -> f64 {
    let c = n_candidates as f64;
    let p = n_parts.max(1) as f64;
    let inner = (p - 1.0) / p;
    let select = rounds as f64 * c;
    let cross = |r: usize| r as f64 * c * p * inner;
    select + cross(rounds) + cross(1)
}

/// Seconds of one step of the greedy selection on these out-of-fold predictions: average one
/// candidate into the running sum and score it with `metric`. Measured, not modelled: it is
/// O(n) for rmse but O(n log n) for AUC and O(n x classes) for log loss. The median of
/// [`TIMING_REPEATS`] runs: one run of a few microseconds is easily inflated a hundredfold by
/// a context switch on a loaded machine (a single sample made the reserve on telco_churn 8x
/// too large).
pub fn time_one_evaluation(
    pred: &Predictions,
    y: &[f64],
    metric: Metric,
    task: Task,
    n_classes: usize,
) -> f64 {
    let shape = Shape::new(task, n_classes);
    let flat = shape.flat(pred);
    let sum = vec![0.0; flat.len()];
    let mut cand = shape.predictions(vec![0.0; flat.len()]);
    let mut runs: Vec<f64> = (0..TIMING_REPEATS)
        .map(|_| {
            let t0 = std::time::Instant::now();
            shape.blend_into(&mut cand, &sum, &flat, 2.0);
            let score = metric.compute(y, &cand, shape.n_classes);
            std::hint::black_box(score);
            t0.elapsed().as_secs_f64()
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// How many times [`time_one_evaluation`] runs the step (it reports the median).
pub const TIMING_REPEATS: usize = 5;

/// Estimated seconds of the ensemble scoring at the end of a study ([`select`] and two
/// [`cross_validated`] runs) from the measured seconds of one evaluation
/// ([`time_one_evaluation`]). On telco_churn (5,282 rows, AUC, 5 folds) 3 candidates took
/// 0.3 s, so a full pool of 20 takes about 2 s, which the search must leave room for.
pub fn selection_secs(
    one_evaluation_s: f64,
    n_candidates: usize,
    n_parts: usize,
    cfg: EnsembleConfig,
) -> f64 {
    let c = n_candidates.min(cfg.pool_size);
    if c < 2 {
        return 0.0;
    }
    one_evaluation_s.max(0.0) * selection_evaluations(c, n_parts, cfg.rounds)
}

/// The validation folds as row ranges (rows concatenated in fold order, `fold_lens` long each)
/// and the parts a nested selection cross-validates over: the folds themselves, or for a
/// single holdout fold 5 interleaved parts of its rows.
pub(crate) fn folds_and_parts(
    fold_lens: &[usize],
    n_rows: usize,
) -> (Vec<std::ops::Range<usize>>, Vec<Vec<usize>>) {
    let mut folds = Vec::new();
    let mut offset = 0;
    for len in fold_lens {
        folds.push(offset..offset + len);
        offset += len;
    }
    let parts = if folds.len() >= 2 {
        folds.iter().map(|r| r.clone().collect()).collect()
    } else {
        (0..5).map(|k| (k..n_rows).step_by(5).collect()).collect()
    };
    (folds, parts)
}

/// Per-fold scores of out-of-fold predictions `pred` (rows concatenated in fold order, fold
/// `k` the rows `folds[k]`), and their mean and spread as every trial's CV score has them.
pub(crate) fn score_by_fold(
    pred: &Predictions,
    y: &[f64],
    folds: &[std::ops::Range<usize>],
    metric: Metric,
    n_classes: usize,
) -> (Vec<f64>, f64, f64) {
    let fold_scores: Vec<f64> = folds
        .iter()
        .map(|r| {
            let rows: Vec<usize> = r.clone().collect();
            let part = Predictions {
                values: rows.iter().map(|&i| pred.values[i]).collect(),
                proba: pred
                    .proba
                    .as_ref()
                    .map(|p| p.select(ndarray::Axis(0), &rows)),
            };
            metric.compute(&y[r.clone()], &part, n_classes)
        })
        .collect();
    let pooled = metric.compute(y, pred, n_classes);
    let (mean, std) = automl_trainer::cv::summarize(&fold_scores, Some(pooled));
    (fold_scores, mean, std)
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
    fn a_folds_cross_validated_predictions_never_use_its_own_labels() {
        let y: Vec<f64> = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let a = Predictions::regression(vec![1.5, 2.5, 2.0, 4.5, 4.0, 6.5, 6.0, 8.5, 8.0]);
        let b = Predictions::regression(vec![0.5, 1.5, 3.5, 3.5, 5.5, 5.5, 7.5, 7.5, 9.5]);
        let c = Predictions::regression(vec![3.0, 3.0, 3.0, 5.0, 5.0, 5.0, 8.0, 8.0, 8.0]);
        let cands = vec![(1u64, &a), (2u64, &b), (3u64, &c)];
        let folds: Vec<Vec<usize>> = vec![(0..3).collect(), (3..6).collect(), (6..9).collect()];
        let cv = |y: &[f64]| {
            cross_validated(
                &cands,
                y,
                &folds,
                Metric::Rmse,
                Task::Regression,
                0,
                EnsembleConfig::default(),
            )
            .expect("predictions")
            .values
        };
        let base = cv(&y);
        // other labels in fold 0: its predictions stay, the other folds' may move
        let mut y2 = y.clone();
        y2[..3].copy_from_slice(&[9.0, -4.0, 30.0]);
        let moved = cv(&y2);
        assert_eq!(base[..3], moved[..3]);
        // folds need not be contiguous: the same property with interleaved ones
        let inter: Vec<Vec<usize>> = (0..3).map(|k| (k..9).step_by(3).collect()).collect();
        let cv_inter = |y: &[f64]| {
            cross_validated(
                &cands,
                y,
                &inter,
                Metric::Rmse,
                Task::Regression,
                0,
                EnsembleConfig::default(),
            )
            .expect("predictions")
            .values
        };
        let mut y3 = y.clone();
        for i in [0, 3, 6] {
            y3[i] += 20.0;
        }
        let (p, q) = (cv_inter(&y), cv_inter(&y3));
        for i in [0, 3, 6] {
            assert_eq!(p[i], q[i]);
        }
        // fold 1 selected on folds 0 and 2, where a and b err in opposite directions
        let blend: Vec<f64> = (3..6).map(|i| (a.values[i] + b.values[i]) / 2.0).collect();
        for (x, e) in base[3..6].iter().zip(&blend) {
            assert!((x - e).abs() < 0.3, "{:?} vs {:?}", &base[3..6], blend);
        }
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

    #[test]
    fn selection_evaluations_count_select_and_both_cross_validations() {
        // 20 candidates, 30 rounds, 5 parts: 600 on all rows, then 5 parts x 4/5 of the rows
        // for 30 rounds and for 1 round.
        let e = selection_evaluations(20, 5, 30);
        assert!(
            (e - (600.0 + 30.0 * 20.0 * 4.0 + 20.0 * 4.0)).abs() < 1e-9,
            "{e}"
        );
        // Grows linearly with the candidates: the pool size is what the reserve must cover.
        assert!((selection_evaluations(3, 5, 30) * 20.0 / 3.0 - e).abs() < 1e-9);
        let cfg = EnsembleConfig::default();
        assert_eq!(selection_secs(0.001, 1, 5, cfg), 0.0);
        // More candidates than the pool are capped at the pool.
        assert_eq!(
            selection_secs(0.001, 50, 5, cfg),
            selection_secs(0.001, cfg.pool_size, 5, cfg)
        );
    }

    #[test]
    fn one_evaluation_is_timed_on_the_real_predictions() {
        let n = 2000;
        let y: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let proba = ndarray::Array2::from_shape_fn((n, 2), |(i, c)| {
            let p = 0.3 + 0.4 * ((i * 7919) % 101) as f64 / 100.0;
            if c == 1 { p } else { 1.0 - p }
        });
        let p = Predictions::from_proba(proba);
        let s = time_one_evaluation(&p, &y, Metric::RocAuc, Task::Binary, 2);
        assert!(s.is_finite() && s >= 0.0);
        // The estimate is that time times the evaluations, whatever the metric.
        let est = selection_secs(s, 20, 5, EnsembleConfig::default());
        assert!((est - s * selection_evaluations(20, 5, 30)).abs() <= 1e-12 * est.max(1.0));
    }
}
