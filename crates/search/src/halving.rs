//! Multi-fidelity search: asynchronous successive halving (ASHA, Li et al. 2018) over the
//! training-row fraction or over the number of cross-validation folds evaluated, wrapped around
//! any strategy.

use crate::common::{allowed, far_behind, trial_loss};
use crate::{AskContext, Strategy};
use automl_core::{Candidate, Params, TrialRecord, TrialState};
use std::collections::{BTreeMap, BTreeSet};

/// Operators whose candidates skip the bottom rungs and run at full fidelity directly: they are
/// few and informative (family defaults, zero-shot portfolio, warm start).
pub const FULL_FIDELITY_OPERATORS: [&str; 3] = ["default", "portfolio", "warm_start"];

/// Under a time budget, a promotion predicted to fit for more than this share of the search time
/// left is passed over (see [`SuccessiveHalving`]). Half, not the quarter of
/// [`crate::GIVEN_MAX_SHARE_OF_TIME_LEFT`]: the prediction is crude (a fit grows about linearly
/// with the rows, some families faster), and a promotion that does finish is often the best trial.
pub const PROMOTION_MAX_SHARE_OF_TIME_LEFT: f64 = 0.5;

/// What the inner strategy is told about low-fidelity trials.
///
/// Measured on the synthetic objective of `tests/fidelity.rs` (low-fidelity loss = true loss +
/// pessimistic bias + noise, both shrinking with the fidelity; mean best full-fidelity loss over
/// 30 seeds at a total cost of 20 / 40 / 80 full trials): `evolution` gains from relabelling
/// (0.203 / 0.152 / 0.077 vs 0.211 / 0.161 / 0.107 unchanged) — its tournaments only rank, and the
/// promoted configurations naturally win them; `bayes` loses from it at larger budgets
/// (0.219 / 0.178 / 0.158 vs 0.227 / 0.173 / 0.102 unchanged) — the noisy, biased low-fidelity
/// scores pollute TPE's good/bad split, while the full-fidelity scores of the promoted
/// configurations are a clean, already-selected sample. [`crate::by_name_with`] therefore
/// relabels for `evolution` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerFeed {
    /// Trials are told unchanged: the inner strategies model only full-fidelity trials (the
    /// defaults and the configurations promoted to the top rung). The default.
    Unchanged,
    /// Every trial is told with its fidelity set to 1: the inner strategy learns from every
    /// configuration as soon as its first (cheap, noisier, pessimistic) score arrives, and again
    /// from each promotion.
    Relabeled,
}

/// Asynchronous successive halving around an inner strategy.
///
/// Rungs are fidelities `1, 1/eta, 1/eta^2, ...` down to `min_fidelity` (ascending in
/// [`SuccessiveHalving::rungs`]). On each ask, from the highest rung down: if a rung `r` below
/// the top has a told trial in the best `floor(n_r / eta)` of its `n_r` finished trials (by the
/// metric's loss; failures count as the worst) that was not promoted yet, it is proposed again
/// at rung `r + 1` (same family and params, `parents = [that trial]`, operator `promote`).
/// Otherwise the inner strategy is asked and its candidate runs at the lowest rung (operator and
/// parents kept), except for the operators in [`FULL_FIDELITY_OPERATORS`], which run at full
/// fidelity. A trial is marked promoted when its promotion is asked, so candidates asked but not
/// yet told (the engine asks ahead) are never promoted twice; on resume, told `promote` trials
/// mark their parents.
///
/// Under a time budget a promotion whose predicted fit time (the trial's own fit time times the
/// rung's growth in cost, `eta` for rows) is more than [`PROMOTION_MAX_SHARE_OF_TIME_LEFT`] of
/// the search time left is passed over: measured on diamonds (60 s, seed 0), an `mlp` that took
/// 11.4 s on a third of the rows was promoted with about 30 s of search time left (37 s of the
/// budget), ran into the search's end and was recorded timed out, and while it ran the asking window (invariant 6) held the other worker
/// idle for 23 s.
///
/// Under a time budget a trial whose family is far behind on this dataset and not cheap
/// ([`FAR_BEHIND`](crate::FAR_BEHIND), the rule that passes over such a family's portfolio
/// configurations and default) is not promoted either. A rung ranks the first looks of every
/// family together, so a family far behind the leader can still rank in the top third among
/// worse ones: on bikeshare (60 s, seed 0) an `mlp` first look at RMSE 64.4 ranked third of
/// eleven (the `gbdt` led at 29.5) and its promotion took 12.4 s for RMSE 75.1. With this
/// rule and the bandit's (see [`crate::Bayes`]), bikeshare ran 119 / 138 / 123 trials at
/// 60 s on seeds 0-2 against 119 / 86 / 90 (BENCHMARKS §60).
pub struct SuccessiveHalving {
    inner: Box<dyn Strategy>,
    rungs: Vec<f64>,
    eta: f64,
    /// Per rung: (trial id, loss) of the finished trials told at that rung.
    results: Vec<Vec<(u64, f64)>>,
    /// Trials already promoted (or whose promotion was asked).
    promoted: BTreeSet<u64>,
    /// Family, params and fit time (seconds) of each finished trial, to build promotions.
    configs: BTreeMap<u64, (String, Params, f64)>,
    /// What the inner strategy is told (default [`InnerFeed::Unchanged`]).
    pub feed: InnerFeed,
    /// Every new candidate starts at the lowest rung, whatever its operator (big data).
    cheap_start: bool,
    /// Fold fidelity: the study's number of folds, when rungs count folds instead of rows.
    n_folds: Option<u32>,
}

impl std::fmt::Debug for SuccessiveHalving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuccessiveHalving")
            .field("inner", &self.inner.name())
            .field("rungs", &self.rungs)
            .field("eta", &self.eta)
            .field("feed", &self.feed)
            .finish_non_exhaustive()
    }
}

/// The rung fidelities for `min_fidelity` and `eta`, ascending, ending at 1: `1/eta^k` for every
/// `k >= 0` with `1/eta^k >= min_fidelity`. Invalid values are clamped (`eta` to at least 1.5,
/// `min_fidelity` into `[1e-6, 1]`; NaN means 1).
pub fn rung_fidelities(min_fidelity: f64, eta: f64) -> Vec<f64> {
    let eta = if eta.is_finite() { eta.max(1.5) } else { 3.0 };
    let min = if min_fidelity.is_nan() {
        1.0
    } else {
        min_fidelity.clamp(1e-6, 1.0)
    };
    let mut rungs = vec![1.0];
    loop {
        let next = rungs[rungs.len() - 1] / eta;
        if next < min * (1.0 - 1e-9) {
            break;
        }
        rungs.push(next);
    }
    rungs.reverse();
    rungs
}

/// The fold counts of [`SuccessiveHalving::over_folds`]'s rungs for `n_folds` folds,
/// ascending: `[1, n]` up to `eta^2` folds (5-fold CV: one fold, then all five), `[1, n/eta, n]`
/// beyond (10 folds, eta 3: 1, 3, 10). A single rung `[1]` for one fold.
pub fn fold_rungs(n_folds: u32, eta: f64) -> Vec<u32> {
    let n = n_folds.max(1);
    let eta = if eta.is_finite() { eta.max(1.5) } else { 3.0 };
    if n == 1 {
        return vec![1];
    }
    let mut rungs = vec![1];
    if f64::from(n) > eta * eta {
        let mid = (f64::from(n) / eta).round() as u32;
        if mid > 1 && mid < n {
            rungs.push(mid);
        }
    }
    rungs.push(n);
    rungs
}

/// The smallest fidelity that still fits a model on `min_rows` of `train_rows` training rows
/// (1 when the data has no more than `min_rows` rows).
pub fn min_fidelity_for_rows(train_rows: usize, min_rows: usize) -> f64 {
    if train_rows == 0 || train_rows <= min_rows {
        1.0
    } else {
        min_rows as f64 / train_rows as f64
    }
}

impl SuccessiveHalving {
    /// ASHA around `inner` with rungs from [`rung_fidelities`]`(min_fidelity, eta)`, e.g.
    /// `[1/9, 1/3, 1]` for `min_fidelity = 1/9, eta = 3`. A `min_fidelity` above `1/eta` leaves a
    /// single rung: every candidate then runs at full fidelity and no promotion happens.
    pub fn new(inner: Box<dyn Strategy>, min_fidelity: f64, eta: f64) -> Self {
        let rungs = rung_fidelities(min_fidelity, eta);
        let eta = if eta.is_finite() { eta.max(1.5) } else { 3.0 };
        SuccessiveHalving {
            inner,
            results: vec![Vec::new(); rungs.len()],
            rungs,
            eta,
            promoted: BTreeSet::new(),
            configs: BTreeMap::new(),
            feed: InnerFeed::Unchanged,
            cheap_start: false,
            n_folds: None,
        }
    }

    /// ASHA over folds (fold fidelity) around `inner`, for a study of `n_folds` folds: a new
    /// candidate is cross-validated on the last fold only ([`Candidate::folds`] = 1) and the
    /// best `1/eta` of those are promoted to every fold. The rungs are [`fold_rungs`]. Row
    /// fidelity is left at 1. Meant for data too small to halve the rows (a fold of a few
    /// hundred rows), where a full trial's cost is its number of folds.
    pub fn over_folds(inner: Box<dyn Strategy>, n_folds: u32, eta: f64) -> Self {
        let n = n_folds.max(1);
        let mut s = SuccessiveHalving::new(inner, 1.0, eta);
        s.rungs = fold_rungs(n, s.eta)
            .into_iter()
            .map(|k| f64::from(k) / f64::from(n))
            .collect();
        s.results = vec![Vec::new(); s.rungs.len()];
        s.n_folds = Some(n);
        s
    }

    /// Place `c` at rung `r`: its row fidelity, or (over folds) the number of folds it is
    /// evaluated on (`None` at the top rung).
    fn set_rung(&self, c: &mut Candidate, r: usize) {
        match self.n_folds {
            None => c.fidelity = self.rungs[r],
            Some(n) => {
                let k = (self.rungs[r] * f64::from(n)).round() as u32;
                c.folds = (k < n).then_some(k.max(1));
            }
        }
    }

    /// The share of the full evaluation a trial's candidate had, on this strategy's scale.
    fn trial_fidelity(&self, c: &Candidate) -> f64 {
        match self.n_folds {
            None => c.fidelity,
            Some(n) => c.cost_share(n as usize),
        }
    }

    /// Start every new candidate at the lowest rung, the [`FULL_FIDELITY_OPERATORS`] too: on
    /// big data even a default configuration at full fidelity can take most of the budget (one
    /// trial in 31 s on 800k rows), so they are ranked cheaply first and promoted.
    pub fn with_cheap_start(mut self) -> Self {
        self.cheap_start = true;
        self
    }

    /// Set what the inner strategy is told.
    pub fn with_feed(mut self, feed: InnerFeed) -> Self {
        self.feed = feed;
        self
    }

    /// The rung fidelities, ascending (the last is 1).
    pub fn rungs(&self) -> &[f64] {
        &self.rungs
    }

    /// The rung of a fidelity: the highest rung not above it (the lowest rung for smaller ones).
    pub fn rung_of(&self, fidelity: f64) -> usize {
        self.rungs
            .iter()
            .rposition(|&r| r <= fidelity * (1.0 + 1e-6))
            .unwrap_or(0)
    }

    /// The next promotion, if any rung has an unpromoted trial in its top `1/eta`.
    fn next_promotion(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        let fams = allowed(ctx);
        // Whether each family is far behind, judged once per ask (it reads the whole history).
        let mut behind: BTreeMap<&str, bool> = BTreeMap::new();
        for r in (0..self.rungs.len().saturating_sub(1)).rev() {
            let mut ranked = self.results[r].clone();
            ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let k = (ranked.len() as f64 / self.eta + 1e-9).floor() as usize;
            for &(id, loss) in ranked.iter().take(k) {
                if !loss.is_finite() || self.promoted.contains(&id) {
                    continue;
                }
                let Some((family, params, fit_s)) = self.configs.get(&id) else {
                    continue;
                };
                if !fams.iter().any(|(_, f)| &f.name == family) {
                    continue;
                }
                // A family far behind on this dataset (and not cheap) is not promoted, however
                // its first look ranked in a rung shared with families worse still.
                if *behind
                    .entry(family.as_str())
                    .or_insert_with(|| far_behind(ctx, family))
                {
                    continue;
                }
                // An unknown (NaN) fit time predicts nothing and does not hold a promotion back.
                if let Some(left) = ctx.time_left_s {
                    let predicted = fit_s * self.rungs[r + 1] / self.rungs[r];
                    if predicted > PROMOTION_MAX_SHARE_OF_TIME_LEFT * left {
                        continue;
                    }
                }
                self.promoted.insert(id);
                let mut c = Candidate::new(family.clone(), params.clone(), "promote");
                c.parents = vec![id];
                self.set_rung(&mut c, r + 1);
                return Some(c);
            }
        }
        None
    }
}

impl Strategy for SuccessiveHalving {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        if let Some(c) = self.next_promotion(ctx) {
            return Some(c);
        }
        let mut c = self.inner.ask(ctx)?;
        let rung = if !self.cheap_start && FULL_FIDELITY_OPERATORS.contains(&c.operator.as_str()) {
            self.rungs.len() - 1
        } else {
            0
        };
        self.set_rung(&mut c, rung);
        Some(c)
    }

    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord) {
        let finished = matches!(
            trial.state,
            TrialState::Complete | TrialState::Failed | TrialState::TimedOut
        );
        if finished {
            let r = self.rung_of(self.trial_fidelity(&trial.candidate));
            self.results[r].push((trial.trial_id, trial_loss(ctx.metric, trial)));
            self.configs.insert(
                trial.trial_id,
                (
                    trial.candidate.family.clone(),
                    trial.candidate.params.clone(),
                    trial.fit_time_s,
                ),
            );
            if trial.candidate.operator == "promote" {
                self.promoted
                    .extend(trial.candidate.parents.iter().copied());
            }
        }
        match self.feed {
            InnerFeed::Relabeled if !trial.candidate.is_full_cv() => {
                let mut t = trial.clone();
                t.candidate.fidelity = 1.0;
                t.candidate.folds = None;
                self.inner.tell(ctx, &t);
            }
            _ => self.inner.tell(ctx, trial),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_follow_eta_and_min_fidelity() {
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
        };
        assert!(close(
            &rung_fidelities(1.0 / 9.0, 3.0),
            &[1.0 / 9.0, 1.0 / 3.0, 1.0]
        ));
        assert!(close(&rung_fidelities(0.2, 3.0), &[1.0 / 3.0, 1.0]));
        assert!(close(&rung_fidelities(0.1, 2.0), &[0.125, 0.25, 0.5, 1.0]));
        assert!(close(&rung_fidelities(0.5, 3.0), &[1.0]));
        assert!(close(&rung_fidelities(f64::NAN, 3.0), &[1.0]));
        assert!(close(
            &rung_fidelities(1.0 / 9.0, 1.0),
            &rung_fidelities(1.0 / 9.0, 1.5)
        ));
        assert_eq!(min_fidelity_for_rows(18_000, 2_000), 2_000.0 / 18_000.0);
        assert_eq!(min_fidelity_for_rows(1_500, 2_000), 1.0);
    }

    use crate::{AskContext, FamilyInfo, StrategyOptions, by_name_with};
    use automl_core::{Metric, SCHEMA_VERSION, Task};

    /// A space of one family, `good`, with one float parameter `a`.
    fn one_family() -> (automl_space::SearchSpace, Vec<FamilyInfo>) {
        let space = automl_space::SearchSpace::from_toml_str(
            "version = 1\nname = \"t\"\n[families.good]\n[families.good.params]\n\
             a = { type = \"float\", low = 0.0, high = 1.0, default = 0.5 }\n",
            "t.toml",
        )
        .unwrap();
        (space, vec![FamilyInfo::new("good", 1.0)])
    }

    fn ctx<'a>(
        space: &'a automl_space::SearchSpace,
        families: &'a [FamilyInfo],
        history: &'a [TrialRecord],
    ) -> AskContext<'a> {
        AskContext {
            space,
            task: Task::Regression,
            metric: Metric::Rmse,
            families,
            history,
            elapsed_fraction: 0.0,
            time_left_s: None,
        }
    }

    /// [`ctx`] with `time_left_s` seconds of search left.
    fn at<'a>(
        space: &'a automl_space::SearchSpace,
        fams: &'a [FamilyInfo],
        h: &'a [TrialRecord],
        time_left_s: Option<f64>,
    ) -> AskContext<'a> {
        let mut c = ctx(space, fams, h);
        c.time_left_s = time_left_s;
        c
    }

    /// A complete trial of `candidate` scored `mean` on one fold.
    fn told(trial_id: u64, candidate: Candidate, mean: f64) -> TrialRecord {
        TrialRecord {
            schema_version: SCHEMA_VERSION,
            study_id: 1,
            trial_id,
            candidate,
            strategy: "random".into(),
            state: TrialState::Complete,
            fold_scores: vec![mean],
            mean,
            std: 0.0,
            metrics: Default::default(),
            fit_time_s: 0.1,
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
    fn cheap_start_puts_defaults_and_portfolio_at_the_lowest_rung() {
        let (space, fams) = one_family();
        let mut p = Params::new();
        p.insert("a".to_string(), automl_core::ParamValue::Float(0.25));
        for cheap_start in [false, true] {
            let opts = StrategyOptions {
                multi_fidelity: true,
                min_fidelity: 1.0 / 27.0,
                cheap_start,
                portfolio: vec![Candidate::new("good", p.clone(), "portfolio")],
                ..StrategyOptions::default()
            };
            let mut s = by_name_with("auto", 0, &opts).unwrap();
            let want = if cheap_start { 1.0 / 27.0 } else { 1.0 };
            // The portfolio's candidate, then the family default.
            for op in ["portfolio", "default"] {
                let c = s.ask(&ctx(&space, &fams, &[])).unwrap();
                assert_eq!(c.operator, op);
                assert!((c.fidelity - want).abs() < 1e-12, "{op} {}", c.fidelity);
            }
        }
    }

    #[test]
    fn over_folds_runs_the_portfolio_and_the_defaults_on_every_fold() {
        let (space, fams) = one_family();
        let mut p = Params::new();
        p.insert("a".to_string(), automl_core::ParamValue::Float(0.25));
        let opts = StrategyOptions {
            fold_fidelity: Some(5),
            portfolio: vec![Candidate::new("good", p, "portfolio")],
            warm_start: vec![Candidate::new("good", Params::new(), "warm_start")],
            ..StrategyOptions::default()
        };
        let mut s = by_name_with("auto", 0, &opts).unwrap();
        for op in ["warm_start", "portfolio", "default"] {
            let c = s.ask(&ctx(&space, &fams, &[])).unwrap();
            assert_eq!(c.operator, op);
            assert_eq!(c.folds, None, "{op}");
        }
        let c = s.ask(&ctx(&space, &fams, &[])).unwrap();
        assert_eq!(c.folds, Some(1), "{}", c.operator);
    }

    #[test]
    fn a_promotion_predicted_to_take_over_half_the_time_left_is_passed_over() {
        let (space, fams) = one_family();
        // Rungs 1/3 and 1: three first looks, the best (trial 0, loss 1) took `fit_s`.
        let run = |fit_s: f64, time_left_s: Option<f64>| -> Candidate {
            let inner = by_name_with("random", 3, &StrategyOptions::default()).unwrap();
            let mut s = SuccessiveHalving::new(inner, 1.0 / 3.0, 3.0);
            let mut history: Vec<TrialRecord> = Vec::new();
            for (id, mean) in [1.0, 2.0, 3.0].into_iter().enumerate() {
                let mut p = Params::new();
                p.insert("a".to_string(), automl_core::ParamValue::Float(mean / 10.0));
                let mut c = Candidate::new("good", p, "random");
                c.fidelity = 1.0 / 3.0;
                let mut t = told(id as u64, c, mean);
                t.fit_time_s = if id == 0 { fit_s } else { 0.1 };
                history.push(t.clone());
                s.tell(&at(&space, &fams, &history, time_left_s), &t);
            }
            s.ask(&at(&space, &fams, &history, time_left_s)).unwrap()
        };
        // Predicted at 3 x 3 s = 9 s: promoted with 20 s left, passed over with 17 s left (the
        // inner strategy's candidate comes instead), promoted whatever its cost without a time
        // budget.
        assert_eq!(run(3.0, Some(20.0)).operator, "promote");
        assert_ne!(run(3.0, Some(17.0)).operator, "promote");
        let free = run(300.0, None);
        assert_eq!(free.operator, "promote");
        assert_eq!(free.parents, vec![0]);
    }

    /// A space of two families, `good` and `slow`, each with one float parameter `a`.
    fn two_families() -> (automl_space::SearchSpace, Vec<FamilyInfo>) {
        let space = automl_space::SearchSpace::from_toml_str(
            "version = 1\nname = \"t\"\n[families.good]\n[families.good.params]\n\
             a = { type = \"float\", low = 0.0, high = 1.0, default = 0.5 }\n\
             [families.slow]\n[families.slow.params]\n\
             a = { type = \"float\", low = 0.0, high = 1.0, default = 0.5 }\n",
            "t.toml",
        )
        .unwrap();
        (
            space,
            vec![FamilyInfo::new("good", 1.0), FamilyInfo::new("slow", 1.0)],
        )
    }

    /// Successive halving (rungs 1/3 and 1) told: three full-fidelity `good` trials (losses
    /// 1.0, 1.1, 1.2, 0.1 s each), one full-fidelity `slow` trial (loss `slow_full`, 5 s), then
    /// three first looks at a third of the rows, of which `slow`'s (loss 0.5, 1.5 s) is the best.
    /// The next ask.
    fn after_first_looks(slow_full: f64, time_left_s: Option<f64>) -> Candidate {
        let (space, fams) = two_families();
        let inner = by_name_with("random", 3, &StrategyOptions::default()).unwrap();
        let mut s = SuccessiveHalving::new(inner, 1.0 / 3.0, 3.0);
        let cand = |family: &str, a: f64, fidelity: f64| {
            let mut p = Params::new();
            p.insert("a".to_string(), automl_core::ParamValue::Float(a));
            let mut c = Candidate::new(family, p, "random");
            c.fidelity = fidelity;
            c
        };
        let trials = [
            (cand("good", 0.1, 1.0), 1.0, 0.1),
            (cand("good", 0.2, 1.0), 1.1, 0.1),
            (cand("good", 0.3, 1.0), 1.2, 0.1),
            (cand("slow", 0.1, 1.0), slow_full, 5.0),
            (cand("slow", 0.4, 1.0 / 3.0), 0.5, 1.5),
            (cand("good", 0.5, 1.0 / 3.0), 3.0, 0.1),
            (cand("good", 0.6, 1.0 / 3.0), 4.0, 0.1),
        ];
        let mut history: Vec<TrialRecord> = Vec::new();
        for (id, (c, loss, fit_s)) in trials.into_iter().enumerate() {
            let mut t = told(id as u64, c, loss);
            t.fit_time_s = fit_s;
            s.tell(&at(&space, &fams, &history, time_left_s), &t);
            history.push(t);
        }
        s.ask(&at(&space, &fams, &history, time_left_s)).unwrap()
    }

    #[test]
    fn a_first_look_of_a_costly_family_far_behind_is_not_promoted() {
        // `slow`'s best full-fidelity trial (2.0) trails `good`'s best (1.0) by 1.0, over twice
        // `good`'s spread (1.1 - 1.0), and its trials cost 5 s of 100 left: its first look,
        // though the best of its rung, is passed over.
        let gated = after_first_looks(2.0, Some(100.0));
        assert_ne!(gated.operator, "promote", "{gated:?}");
        // Promoted when `slow` is close (1.15), when its trials are cheap against the time left
        // (5 s of 1000 s), and without a time budget.
        for (slow_full, left) in [(1.15, Some(100.0)), (2.0, Some(1000.0)), (2.0, None)] {
            let c = after_first_looks(slow_full, left);
            assert_eq!(c.operator, "promote", "{slow_full} {left:?}: {c:?}");
            assert_eq!(c.family, "slow");
            assert_eq!(c.parents, vec![4]);
            assert_eq!(c.fidelity, 1.0);
        }
    }

    #[test]
    fn fold_rungs_go_from_one_fold_to_all() {
        assert_eq!(fold_rungs(5, 3.0), vec![1, 5]);
        assert_eq!(fold_rungs(3, 3.0), vec![1, 3]);
        assert_eq!(fold_rungs(9, 3.0), vec![1, 9]);
        assert_eq!(fold_rungs(10, 3.0), vec![1, 3, 10]);
        assert_eq!(fold_rungs(2, 3.0), vec![1, 2]);
        assert_eq!(fold_rungs(1, 3.0), vec![1]);
        assert_eq!(fold_rungs(0, 3.0), vec![1]);
    }

    #[test]
    fn over_folds_first_looks_use_one_fold_and_the_best_third_gets_every_fold() {
        let (space, fams) = one_family();
        let opts = StrategyOptions {
            fold_fidelity: Some(5),
            ..StrategyOptions::default()
        };
        let mut s = by_name_with("random", 7, &opts).unwrap();
        let mut history: Vec<TrialRecord> = Vec::new();
        let mut asked = Vec::new();
        // Scores: trial 2 is the best of the first looks.
        for (id, mean) in [3.0, 2.0, 1.0, 4.0].into_iter().enumerate() {
            let c = s.ask(&ctx(&space, &fams, &history)).unwrap();
            asked.push(c.clone());
            let t = told(id as u64, c, mean);
            history.push(t.clone());
            s.tell(&ctx(&space, &fams, &history), &t);
        }
        // The family default runs on every fold; the random proposals on the last fold only.
        assert_eq!(asked[0].operator, "default");
        assert_eq!(asked[0].folds, None);
        for c in &asked[1..] {
            assert_eq!(c.folds, Some(1), "{}", c.operator);
            assert_eq!(c.fidelity, 1.0, "rows are not halved");
        }
        // Of the three first looks (trials 1-3), the best third (one: trial 2) is promoted to
        // every fold, with the same parameters.
        let c = s.ask(&ctx(&space, &fams, &history)).unwrap();
        assert_eq!(c.operator, "promote");
        assert_eq!(c.parents, vec![2]);
        assert_eq!(c.folds, None);
        assert!(c.is_full_cv());
        assert_eq!(c.params, asked[2].params);
    }

    /// Records what it is told; proposes the family default.
    struct Spy(std::sync::Arc<std::sync::Mutex<Vec<Candidate>>>);

    impl Strategy for Spy {
        fn name(&self) -> &'static str {
            "spy"
        }
        fn ask(&mut self, _ctx: &AskContext<'_>) -> Option<Candidate> {
            Some(Candidate::new("good", Params::new(), "random"))
        }
        fn tell(&mut self, _ctx: &AskContext<'_>, trial: &TrialRecord) {
            self.0.lock().unwrap().push(trial.candidate.clone());
        }
    }

    #[test]
    fn over_folds_tells_the_inner_strategy_first_looks_as_they_are_or_relabelled() {
        let (space, fams) = one_family();
        for feed in [InnerFeed::Unchanged, InnerFeed::Relabeled] {
            let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut s =
                SuccessiveHalving::over_folds(Box::new(Spy(seen.clone())), 5, 3.0).with_feed(feed);
            let c = s.ask(&ctx(&space, &fams, &[])).unwrap();
            assert_eq!(c.folds, Some(1));
            let t = told(0, c, 1.0);
            s.tell(&ctx(&space, &fams, std::slice::from_ref(&t)), &t);
            let told_folds = seen.lock().unwrap()[0].folds;
            match feed {
                // Unchanged: the inner strategy sees a first look (and full_fidelity() skips it).
                InnerFeed::Unchanged => assert_eq!(told_folds, Some(1)),
                // Relabelled (evolution): as if it had run on every fold.
                InnerFeed::Relabeled => assert_eq!(told_folds, None),
            }
        }
        let mut first_look = told(0, Candidate::new("good", Params::new(), "random"), 1.0);
        first_look.candidate.folds = Some(1);
        assert!(!crate::common::full_fidelity(&first_look));
        first_look.candidate.folds = None;
        assert!(crate::common::full_fidelity(&first_look));
    }
}
