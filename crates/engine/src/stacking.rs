//! Stacking: a second-layer model ([`automl_trainer::stack::MetaLearner`]) fitted on the
//! out-of-fold predictions of the best diverse trials, and its honest cross-validated score.
//!
//! Members: up to [`StackConfig::max_members`] of the candidates (best first by (score, id)),
//! the best of each family first, then the next best, skipping any whose predictions are
//! near copies of a member's (correlation above [`StackConfig::max_correlation`]); they keep
//! the candidates' order. The second layer's L2 strength is chosen from
//! [`StackConfig::l2_grid`] by cross-validation over the parts (the study's folds, or 5
//! interleaved parts of a holdout), then it is fitted on every out-of-fold row.
//!
//! The score is nested like the ensemble's ([`crate::ensemble::cross_validated`]): for each
//! part, the L2 choice (an inner cross-validation over the other parts) and the fit see only
//! the other parts' rows, and that model predicts the part. No row's prediction used its own
//! label. The original features are not inputs of the second layer (they would need the
//! members' preprocessing again, and a second layer that can overfit them).

use automl_core::{Metric, Predictions, STACKING_KEY, StackingDecision, Task, TrialRecord};
use automl_trainer::stack::{MetaLearner, flatten, unflatten, width};
use std::collections::BTreeMap;

/// The stacking decision stored on a stacking trial (`extra["stacking"]`, JSON), if any.
pub fn stacking_of(t: &TrialRecord) -> Option<StackingDecision> {
    serde_json::from_str(t.extra.get(STACKING_KEY)?).ok()
}

/// Store a stacking decision on a trial (read back by [`stacking_of`]).
pub(crate) fn set_stacking(t: &mut TrialRecord, d: &StackingDecision) {
    if let Ok(text) = serde_json::to_string(d) {
        t.extra.insert(STACKING_KEY.to_string(), text);
    }
}

/// Settings of stacking.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// At most this many members.
    pub max_members: usize,
    /// A candidate whose predictions correlate above this with a member's is not added.
    pub max_correlation: f64,
    /// L2 strengths tried (relative: see `automl_trainer::stack`).
    pub l2_grid: Vec<f64>,
    /// Give up (no stacking) when a second-layer fit would start after this instant: the
    /// nested selection fits about (parts + 1) × (grid × parts) layers, which on many classes
    /// and rows takes seconds, and under a time budget it must not eat the time the end of the
    /// study was given.
    pub deadline: Option<std::time::Instant>,
}

/// The answer of a fit that would start past [`StackConfig::deadline`].
fn past(deadline: Option<std::time::Instant>) -> bool {
    deadline.is_some_and(|d| std::time::Instant::now() >= d)
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            max_members: 8,
            max_correlation: 0.999,
            l2_grid: vec![1e-3, 1e-2, 1e-1, 1.0],
            deadline: None,
        }
    }
}

/// A candidate of the stacking: trial id, family, out-of-fold predictions (over the rows of
/// the validation folds, concatenated in fold order).
pub type StackCandidate<'a> = (u64, &'a str, &'a Predictions);

/// A stacking fitted on all out-of-fold rows and scored by nested cross-validation.
#[derive(Debug, Clone)]
pub struct ScoredStacking {
    /// Member trial ids, in input order.
    pub members: Vec<u64>,
    /// The second layer fitted on every out-of-fold row.
    pub meta: MetaLearner,
    /// Per validation fold: the nested stacking's score.
    pub fold_scores: Vec<f64>,
    /// Mean of the fold scores (as every trial's CV score).
    pub mean: f64,
    /// Their spread.
    pub std: f64,
    /// Every metric of the task on the nested predictions.
    pub metrics: BTreeMap<String, f64>,
    /// The L2 strength each part's second layer chose on the other parts.
    pub fold_l2: Vec<f64>,
    /// The nested predictions, in the candidates' row order (what the final model's
    /// post-processing is fitted on when the stacking is final).
    pub honest: Predictions,
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(1) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        // A constant prediction: a copy only of an identical one.
        return if a == b { 1.0 } else { 0.0 };
    }
    sab / (saa * sbb).sqrt()
}

/// Indices of the members among `flats` (best first): the best of each family, then the
/// best of the rest, never a near copy of a member (errors against `y` correlating above
/// [`StackConfig::max_correlation`]: on regression the predictions themselves all correlate
/// with the target); returned in ascending order.
pub fn choose_members(
    families: &[&str],
    flats: &[Vec<f64>],
    y: &[f64],
    task: Task,
    n_classes: usize,
    cfg: &StackConfig,
) -> Vec<usize> {
    let w = width(task, n_classes);
    let errors: Vec<Vec<f64>> = flats
        .iter()
        .map(|f| {
            f.iter()
                .enumerate()
                .map(|(i, p)| {
                    let truth = if task.is_classification() {
                        f64::from(u8::from(y.get(i / w).copied() == Some((i % w) as f64)))
                    } else {
                        y.get(i).copied().unwrap_or(0.0)
                    };
                    p - truth
                })
                .collect()
        })
        .collect();
    let flats = &errors;
    let mut chosen: Vec<usize> = Vec::new();
    let copy = |i: usize, chosen: &[usize]| {
        chosen
            .iter()
            .any(|&j| correlation(&flats[i], &flats[j]) > cfg.max_correlation)
    };
    for pass in 0..2 {
        for i in 0..flats.len() {
            if chosen.len() >= cfg.max_members {
                break;
            }
            if chosen.contains(&i) {
                continue;
            }
            let new_family = !chosen.iter().any(|&j| families[j] == families[i]);
            if (pass == 1 || new_family) && !copy(i, &chosen) {
                chosen.push(i);
            }
        }
    }
    chosen.sort_unstable();
    chosen
}

/// The L2 strength with the best pooled score over `parts` (each part predicted by a second
/// layer fitted on the other parts); ties keep the stronger penalty. With fewer than 2
/// parts, the grid's middle value.
#[allow(clippy::too_many_arguments)]
fn choose_l2(
    flats: &[&[f64]],
    y: &[f64],
    parts: &[&[usize]],
    metric: Metric,
    task: Task,
    n_classes: usize,
    grid: &[f64],
    deadline: Option<std::time::Instant>,
) -> Option<f64> {
    let middle = grid.get(grid.len() / 2).copied().unwrap_or(0.01);
    if parts.len() < 2 {
        return Some(middle);
    }
    let w = width(task, n_classes);
    let rows: Vec<usize> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let y_rows: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
    let mut best: Option<(f64, f64)> = None;
    for &l2 in grid.iter().rev() {
        let mut pred = Vec::with_capacity(rows.len() * w);
        for (k, part) in parts.iter().enumerate() {
            let train: Vec<usize> = parts
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != k)
                .flat_map(|(_, p)| p.iter().copied())
                .collect();
            if past(deadline) {
                return None;
            }
            match MetaLearner::fit(flats, y, &train, task, n_classes, l2) {
                Some(m) => pred.extend(m.predict_rows(flats, part, task, n_classes)),
                None => pred.extend(std::iter::repeat_n(f64::NAN, part.len() * w)),
            }
        }
        let s = metric.compute(&y_rows, &unflatten(pred, task, n_classes), n_classes);
        if s.is_finite() && best.is_none_or(|(_, b)| metric.better(s, b)) {
            best = Some((l2, s));
        }
    }
    Some(best.map_or(middle, |b| b.0))
}

/// Nested cross-validated predictions of stacking over `parts` (row indices partitioning the
/// rows): for each part, the L2 is chosen by [`choose_l2`] over the other parts and the second
/// layer fitted on their rows predicts the part. Returns the flattened predictions and each
/// part's L2; None when the parts do not partition the rows or a fit fails.
#[allow(clippy::too_many_arguments)]
pub fn cross_validated(
    flats: &[&[f64]],
    y: &[f64],
    parts: &[Vec<usize>],
    metric: Metric,
    task: Task,
    n_classes: usize,
    grid: &[f64],
    deadline: Option<std::time::Instant>,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = y.len();
    let w = width(task, n_classes);
    let mut seen = vec![false; n];
    for p in parts {
        for &i in p {
            if i >= n || seen[i] {
                return None;
            }
            seen[i] = true;
        }
    }
    if parts.len() < 2 || seen.contains(&false) || flats.iter().any(|f| f.len() != n * w) {
        return None;
    }
    let mut out = vec![0.0; n * w];
    let mut fold_l2 = Vec::with_capacity(parts.len());
    for (k, part) in parts.iter().enumerate() {
        let others: Vec<&[usize]> = parts
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, p)| p.as_slice())
            .collect();
        let l2 = choose_l2(flats, y, &others, metric, task, n_classes, grid, deadline)?;
        let train: Vec<usize> = others.iter().flat_map(|p| p.iter().copied()).collect();
        if past(deadline) {
            return None;
        }
        let m = MetaLearner::fit(flats, y, &train, task, n_classes, l2)?;
        let pred = m.predict_rows(flats, part, task, n_classes);
        for (i, &r) in part.iter().enumerate() {
            out[r * w..(r + 1) * w].copy_from_slice(&pred[i * w..(i + 1) * w]);
        }
        fold_l2.push(l2);
    }
    Some((out, fold_l2))
}

/// The work of [`select_and_score`]'s second-layer fits over `parts` parts and an L2 grid of
/// `grid` values, in units of one fit on the rows of `parts - 2` parts (a fit's time taken as
/// proportional to its rows): the nested [`cross_validated`] (per part, [`choose_l2`] over the
/// others and one fit on them), [`choose_l2`] over every part, and the fit on all rows. With 5
/// parts and 4 values: 106 fits, 115 units. None with fewer than 3 parts (no inner fits).
pub fn nested_fit_units(parts: usize, grid: usize) -> Option<f64> {
    if parts < 3 {
        return None;
    }
    let (p, g) = (parts as f64, grid as f64);
    let inner = p * g * (p - 1.0) * (p - 2.0) / p;
    let outer = p * (p - 1.0) / p;
    let top = g * p * (p - 1.0) / p;
    Some((inner + outer + top + 1.0) / ((p - 2.0) / p))
}

/// Time one second-layer fit of the nested selection (the first inner one: the rows of all
/// parts but two, the grid's strongest L2) and return (its seconds, [`nested_fit_units`]):
/// their product is the selection's projected time. None with fewer than 3 parts.
fn time_one_fit(
    flats: &[&[f64]],
    y: &[f64],
    parts: &[Vec<usize>],
    task: Task,
    n_classes: usize,
    cfg: &StackConfig,
) -> Option<(f64, f64)> {
    let units = nested_fit_units(parts.len(), cfg.l2_grid.len())?;
    let t0 = std::time::Instant::now();
    let rows: Vec<usize> = parts[2..].iter().flatten().copied().collect();
    let l2 = cfg.l2_grid.last().copied().unwrap_or(1.0);
    let _ = MetaLearner::fit(flats, y, &rows, task, n_classes, l2);
    Some((t0.elapsed().as_secs_f64(), units))
}

/// Projected seconds of [`select_and_score`]'s nested selection on these candidates (best
/// first), from one timed second-layer fit on the members it would choose ([`time_one_fit`]);
/// None with fewer than 2 members or 3 parts. The search times it to leave room for the
/// stacking in its reserve (`study::reserve`).
pub fn projected_secs(
    candidates: &[StackCandidate<'_>],
    y: &[f64],
    fold_lens: &[usize],
    task: Task,
    n_classes: usize,
    cfg: &StackConfig,
) -> Option<f64> {
    let flats_all: Vec<Vec<f64>> = candidates.iter().map(|c| flatten(c.2, task)).collect();
    let families: Vec<&str> = candidates.iter().map(|c| c.1).collect();
    let idx = choose_members(&families, &flats_all, y, task, n_classes, cfg);
    if idx.len() < 2 {
        return None;
    }
    let flats: Vec<&[f64]> = idx.iter().map(|&i| flats_all[i].as_slice()).collect();
    let (_, parts) = crate::ensemble::folds_and_parts(fold_lens, y.len());
    let (one, units) = time_one_fit(&flats, y, &parts, task, n_classes, cfg)?;
    Some(one * units)
}

/// Choose the members among `candidates` (best first), fit the second layer on every
/// out-of-fold row and score it by nested cross-validation over the study's folds
/// (`fold_lens`: each validation fold's length, the rows concatenated in fold order; a single
/// holdout fold is split into 5 interleaved parts, as the ensemble does). `Err` says why there
/// is no stacking.
pub fn select_and_score(
    candidates: &[StackCandidate<'_>],
    y: &[f64],
    fold_lens: &[usize],
    metric: Metric,
    task: Task,
    n_classes: usize,
    cfg: &StackConfig,
) -> Result<ScoredStacking, String> {
    let flats_all: Vec<Vec<f64>> = candidates.iter().map(|c| flatten(c.2, task)).collect();
    let families: Vec<&str> = candidates.iter().map(|c| c.1).collect();
    let idx = choose_members(&families, &flats_all, y, task, n_classes, cfg);
    if idx.len() < 2 {
        return Err(format!(
            "no stacking: {} distinct trial(s) with out-of-fold predictions, at least 2 are needed",
            idx.len()
        ));
    }
    let flats: Vec<&[f64]> = idx.iter().map(|&i| flats_all[i].as_slice()).collect();
    let members: Vec<u64> = idx.iter().map(|&i| candidates[i].0).collect();
    let (folds, parts) = crate::ensemble::folds_and_parts(fold_lens, y.len());
    let no_time = || {
        "no stacking: no time left for its nested cross-validation (it may take a share of \
         the time left after the search; see docs/architecture.md)"
            .to_string()
    };
    if past(cfg.deadline) {
        return Err(no_time());
    }
    // Under a deadline, one fit first (the first inner fit of the nested selection: the rows
    // of all parts but two, the grid's strongest L2), projected to the whole selection: on
    // rodents (5,128 holdout rows, 8 members x 16 classes) the selection never fitted in its
    // share of the time left, and spent all of it before giving up.
    if let Some(d) = cfg.deadline {
        let t0 = std::time::Instant::now();
        if let Some((one, units)) = time_one_fit(&flats, y, &parts, task, n_classes, cfg) {
            let left = d.saturating_duration_since(t0).as_secs_f64();
            if one * units > left {
                return Err(format!(
                    "no stacking: no time left for its nested cross-validation: it would take \
                     about {:.1} s ({units:.0} times its first second-layer fit, {one:.3} s), \
                     more than the {left:.1} s it may use (a share of the time left after the \
                     search, or the time the search reserved for it; see \
                     docs/architecture.md)",
                    one * units,
                ));
            }
        }
    }
    let Some((honest, fold_l2)) = cross_validated(
        &flats,
        y,
        &parts,
        metric,
        task,
        n_classes,
        &cfg.l2_grid,
        cfg.deadline,
    ) else {
        if past(cfg.deadline) {
            return Err(no_time());
        }
        return Err("no stacking: its cross-validation could not be computed".to_string());
    };
    let part_refs: Vec<&[usize]> = parts.iter().map(Vec::as_slice).collect();
    let Some(l2) = choose_l2(
        &flats,
        y,
        &part_refs,
        metric,
        task,
        n_classes,
        &cfg.l2_grid,
        cfg.deadline,
    ) else {
        return Err(no_time());
    };
    let all: Vec<usize> = (0..y.len()).collect();
    let Some(meta) = MetaLearner::fit(&flats, y, &all, task, n_classes, l2) else {
        return Err("no stacking: its second layer could not be fitted".to_string());
    };
    let honest = unflatten(honest, task, n_classes);
    let (fold_scores, mean, std) =
        crate::ensemble::score_by_fold(&honest, y, &folds, metric, n_classes);
    Ok(ScoredStacking {
        members,
        meta,
        fold_scores,
        mean,
        std,
        metrics: Metric::for_task(task)
            .iter()
            .map(|m| (m.name().to_string(), m.compute(y, &honest, n_classes)))
            .collect(),
        fold_l2,
        honest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Regression where one member is biased: y = x, a = x + 3 + noise_a, b = x + noise_b.
    fn biased(n: usize) -> (Vec<f64>, Predictions, Predictions) {
        let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.71).sin() * 10.0).collect();
        let a: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, v)| v + 3.0 + ((i * 37 % 11) as f64 - 5.0) * 0.2)
            .collect();
        let b: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, v)| v + ((i * 53 % 13) as f64 - 6.0) * 0.5)
            .collect();
        (y, Predictions::regression(a), Predictions::regression(b))
    }

    #[test]
    fn each_parts_prediction_is_the_model_fitted_on_the_other_parts() {
        let (y, a, b) = biased(90);
        let flats_v = [a.values.clone(), b.values.clone()];
        let flats: Vec<&[f64]> = flats_v.iter().map(Vec::as_slice).collect();
        let parts: Vec<Vec<usize>> = (0..3).map(|k| (k * 30..(k + 1) * 30).collect()).collect();
        let grid = StackConfig::default().l2_grid;
        let cv = |y: &[f64]| {
            cross_validated(
                &flats,
                y,
                &parts,
                Metric::Rmse,
                Task::Regression,
                0,
                &grid,
                None,
            )
            .unwrap()
        };
        let (pred, l2s) = cv(&y);
        for (k, part) in parts.iter().enumerate() {
            // By hand: the L2 chosen on the other two parts (each predicted by a fit on the
            // third), then the fit on both predicts part k.
            let others: Vec<&Vec<usize>> = parts
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != k)
                .map(|p| p.1)
                .collect();
            let mut best: Option<(f64, f64)> = None;
            for &l2 in grid.iter().rev() {
                let mut p = Vec::new();
                let mut yy = Vec::new();
                for (i, o) in others.iter().enumerate() {
                    let m = MetaLearner::fit(&flats, &y, others[1 - i], Task::Regression, 0, l2)
                        .unwrap();
                    p.extend(m.predict_rows(&flats, o, Task::Regression, 0));
                    yy.extend(o.iter().map(|&r| y[r]));
                }
                let s = Metric::Rmse.compute(&yy, &Predictions::regression(p), 0);
                if best.is_none_or(|(_, b)| s < b) {
                    best = Some((l2, s));
                }
            }
            assert_eq!(l2s[k], best.unwrap().0);
            let train: Vec<usize> = others.iter().flat_map(|p| p.iter().copied()).collect();
            let m = MetaLearner::fit(&flats, &y, &train, Task::Regression, 0, l2s[k]).unwrap();
            let by_hand = m.predict_rows(&flats, part, Task::Regression, 0);
            for (i, &r) in part.iter().enumerate() {
                assert_eq!(pred[r], by_hand[i]);
            }
        }
        // Changing part 0's labels leaves part 0's predictions unchanged.
        let mut y2 = y.clone();
        for v in &mut y2[..30] {
            *v = -*v * 5.0 + 100.0;
        }
        let (pred2, _) = cv(&y2);
        assert_eq!(pred[..30], pred2[..30]);
    }

    #[test]
    fn a_biased_member_is_corrected_and_the_stacking_beats_the_members() {
        let (y, a, b) = biased(200);
        let cands: Vec<StackCandidate> = vec![(1, "gbdt", &a), (2, "linear", &b)];
        let s = select_and_score(
            &cands,
            &y,
            &[40; 5],
            Metric::Rmse,
            Task::Regression,
            0,
            &StackConfig::default(),
        )
        .unwrap();
        assert_eq!(s.members, vec![1, 2]);
        assert_eq!(s.fold_scores.len(), 5);
        let ra = Metric::Rmse.compute(&y, &a, 0);
        let rb = Metric::Rmse.compute(&y, &b, 0);
        assert!(s.mean < ra && s.mean < rb, "{} vs {ra} {rb}", s.mean);
        assert!(s.meta.intercepts[0] < -1.0, "{:?}", s.meta);
    }

    #[test]
    fn the_nested_selection_counts_its_fits() {
        // 5 parts, 4 L2 values: per part 4 x 4 inner fits on 3 parts' rows and 1 on 4 parts';
        // then 4 x 5 fits on 4 parts' rows and 1 on all rows. In units of a 3-part fit:
        // (80 x 3 + 5 x 4 + 20 x 4 + 5) / 3.
        let u = nested_fit_units(5, 4).unwrap();
        assert!(
            (u - (80.0 * 3.0 + 20.0 + 80.0 + 5.0) / 3.0).abs() < 1e-9,
            "{u}"
        );
        assert!(nested_fit_units(2, 4).is_none());
    }

    #[test]
    fn a_selection_projected_past_its_deadline_is_not_started() {
        // 10 classes, 3,000 rows, 3 members: one second-layer fit (a multinomial logistic
        // model on 30 inputs, fitted iteratively) takes well over 20 ms / 115, so with 20 ms
        // left the selection is not started, however fast the machine.
        let (n, k) = (3000, 10);
        let y: Vec<f64> = (0..n).map(|i| (i % k) as f64).collect();
        let member = |shift: usize| {
            let mut p = Array2::<f64>::from_elem((n, k), 0.5 / (k - 1) as f64);
            for i in 0..n {
                let c = if (i * 7 + shift) % 5 == 0 {
                    (i + shift) % k
                } else {
                    i % k
                };
                p[[i, c]] = 0.5;
            }
            Predictions::from_proba(p)
        };
        let (a, b, c) = (member(1), member(2), member(3));
        let cands: Vec<StackCandidate<'_>> =
            vec![(1, "gbdt", &a), (2, "mlp", &b), (3, "logistic", &c)];
        let cfg = StackConfig {
            deadline: Some(std::time::Instant::now() + std::time::Duration::from_millis(20)),
            ..StackConfig::default()
        };
        let err = select_and_score(
            &cands,
            &y,
            &[600; 5],
            Metric::LogLoss,
            Task::Multiclass,
            k,
            &cfg,
        )
        .unwrap_err();
        assert!(
            err.contains("no time left") && err.contains("would take about"),
            "{err}"
        );
    }

    #[test]
    fn the_projection_times_a_fit_on_the_members_it_would_choose() {
        let (y, a, b) = biased(400);
        let cands: Vec<StackCandidate<'_>> = vec![(1, "gbdt", &a), (2, "linear", &b)];
        let cfg = StackConfig::default();
        let secs = projected_secs(&cands, &y, &[80; 5], Task::Regression, 0, &cfg).unwrap();
        assert!(secs > 0.0 && secs.is_finite(), "{secs}");
        // One candidate, or a copy of it, has no stacking to project; nor a split into 2 parts
        // (no inner fits).
        let copy: Vec<StackCandidate<'_>> = vec![(1, "gbdt", &a), (2, "gbdt", &a)];
        assert!(projected_secs(&copy, &y, &[80; 5], Task::Regression, 0, &cfg).is_none());
        assert!(projected_secs(&cands[..1], &y, &[80; 5], Task::Regression, 0, &cfg).is_none());
        assert!(projected_secs(&cands, &y, &[200; 2], Task::Regression, 0, &cfg).is_none());
    }

    #[test]
    fn a_deadline_in_the_past_means_no_stacking_and_says_why() {
        let (y, a, b) = biased(200);
        let cands: Vec<StackCandidate<'_>> = vec![(1, "ridge", &a), (2, "gbdt", &b)];
        let cfg = StackConfig {
            deadline: Some(std::time::Instant::now()),
            ..StackConfig::default()
        };
        let err = select_and_score(
            &cands,
            &y,
            &[40; 5],
            Metric::Rmse,
            Task::Regression,
            0,
            &cfg,
        )
        .unwrap_err();
        assert!(err.contains("no time left"), "{err}");
        // Without a deadline the same candidates stack.
        assert!(
            select_and_score(
                &cands,
                &y,
                &[40; 5],
                Metric::Rmse,
                Task::Regression,
                0,
                &StackConfig::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn members_prefer_distinct_families_and_skip_copies() {
        let base: Vec<f64> = (0..50).map(|i| (i as f64 * 0.3).sin()).collect();
        let copy: Vec<f64> = base.iter().map(|v| v * 2.0 + 1.0).collect();
        let other: Vec<f64> = (0..50).map(|i| (i as f64 * 0.7).cos()).collect();
        let third: Vec<f64> = (0..50).map(|i| (i as f64 * 1.3).sin()).collect();
        let flats = vec![base, copy, third, other];
        let fams = ["gbdt", "gbdt", "gbdt", "linear"];
        let cfg = StackConfig {
            max_members: 2,
            ..StackConfig::default()
        };
        let y = vec![0.0; 50];
        let pick = |cfg: &StackConfig| choose_members(&fams, &flats, &y, Task::Regression, 0, cfg);
        // The best gbdt and the linear one, not the copy nor the second gbdt.
        assert_eq!(pick(&cfg), vec![0, 3]);
        assert_eq!(pick(&StackConfig::default()), vec![0, 2, 3]);
        // Near copies are told by their errors: two predictions that both follow the target
        // closely are not copies when their errors differ.
        let y: Vec<f64> = (0..50).map(|i| 1000.0 * i as f64).collect();
        let a: Vec<f64> = y.iter().zip(&flats[0]).map(|(y, e)| y + e).collect();
        let b: Vec<f64> = y.iter().zip(&flats[3]).map(|(y, e)| y + e + 3.0).collect();
        let c = choose_members(
            &["gbdt", "gbdt"],
            &[a, b],
            &y,
            Task::Regression,
            0,
            &StackConfig::default(),
        );
        assert_eq!(c, vec![0, 1]);
    }

    #[test]
    fn binary_stacking_on_a_holdout_uses_interleaved_parts() {
        let n = 150;
        let y: Vec<f64> = (0..n).map(|i| ((i * 7) % 3 == 0) as u8 as f64).collect();
        let mk = |f: &dyn Fn(usize, f64) -> f64| {
            Predictions::from_proba(Array2::from_shape_fn((n, 2), |(i, c)| {
                let p = f(i, y[i]).clamp(0.01, 0.99);
                if c == 1 { p } else { 1.0 - p }
            }))
        };
        let a = mk(&|i, yi| if i % 9 == 0 { 0.5 } else { 0.3 + 0.4 * yi });
        let b = mk(&|i, yi| 0.4 + 0.2 * yi + 0.1 * ((i as f64) * 0.9).sin());
        let cands: Vec<StackCandidate> = vec![(4, "gbdt", &a), (7, "logistic", &b)];
        let s = select_and_score(
            &cands,
            &y,
            &[n],
            Metric::LogLoss,
            Task::Binary,
            2,
            &StackConfig::default(),
        )
        .unwrap();
        assert_eq!(s.fold_scores.len(), 1);
        assert_eq!(s.fold_l2.len(), 5);
        assert!(s.honest.proba.as_ref().unwrap().nrows() == n);
        assert!(s.mean.is_finite());
    }
}
