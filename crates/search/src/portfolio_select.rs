//! Choosing a zero-shot portfolio from a matrix of configurations × datasets, and measuring how
//! well that choice generalises by leaving each dataset out.
//!
//! Every configuration of a pool is cross-validated on every dataset of its task (`automl fit
//! --portfolio POOL --max-trials N`), giving a score matrix. Scores are made comparable across
//! datasets as a **normalised regret**: on dataset `d`, `(best_d − s) / (best_d − median_d)`, so
//! 0 is the best configuration of the pool on `d`, 1 the median one, and a failed or missing
//! evaluation counts as [`REGRET_CAP`]. The portfolio is built greedily: each step adds the
//! configuration that most lowers the mean over datasets of the best regret reached so far (the
//! portfolio's worth is its best member on each dataset, as `auto` tries them all first), ties
//! going to the lower mean regret over every dataset — a configuration good everywhere beats
//! one that is best somewhere and poor elsewhere. Its first member is therefore the
//! configuration with the lowest mean regret. A configuration whose regret is within
//! [`DUPLICATE_REGRET`] of a chosen member's on every dataset is a duplicate of it and is never
//! chosen: it cannot lower the objective by more than that anywhere, and `auto` would spend a
//! whole trial on it. Once the chosen members reach regret 0 everywhere, every further step is
//! a tie broken by mean regret, which without this rule fills the portfolio with near-copies of
//! its first member (the multiclass portfolio of 2026-12-01 held five `logistic`
//! configurations from iris, alpha 0.031-0.046, that score the same to four digits on
//! rodents, at 3.5 s a trial there). The portfolio can therefore be shorter than asked.
//!
//! [`leave_one_out`] rebuilds the portfolio once per dataset without that dataset's scores and
//! without the configurations found on it (their `origin`), and scores the result on the
//! held-out dataset: the honest estimate of what the portfolio does on a dataset it has never
//! seen, beside the in-sample figure that a portfolio chosen on the very datasets it is scored
//! on reports.

use crate::common::median_of_sorted;

/// The regret given to a configuration that failed or was not evaluated on a dataset, and the
/// largest regret counted (a very poor configuration should not outweigh everything else).
pub const REGRET_CAP: f64 = 2.0;

/// Two configurations whose normalised regrets differ by at most this much on every dataset
/// (a tenth of the gap between the pool's best and median configuration there) are
/// duplicates: the greedy choice never takes the second.
pub const DUPLICATE_REGRET: f64 = 0.1;

/// Cross-validation scores of a pool of configurations on a set of datasets of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMatrix {
    /// Dataset names (one study each).
    pub datasets: Vec<String>,
    /// `scores[c][d]`: configuration `c`'s score on dataset `d`, oriented so that higher is
    /// better (a loss negated); `None` when it failed or was not run.
    pub scores: Vec<Vec<Option<f64>>>,
    /// Per configuration, the dataset it was found on, when known.
    pub origins: Vec<Option<String>>,
}

impl ScoreMatrix {
    /// Normalised regrets, `[c][d]` (see the module documentation).
    #[allow(clippy::needless_range_loop)] // d indexes every configuration's row
    pub fn regrets(&self) -> Vec<Vec<f64>> {
        let n_d = self.datasets.len();
        let mut out = vec![vec![REGRET_CAP; n_d]; self.scores.len()];
        for d in 0..n_d {
            let mut seen: Vec<f64> = self
                .scores
                .iter()
                .filter_map(|row| row.get(d).copied().flatten())
                .filter(|s| s.is_finite())
                .collect();
            if seen.is_empty() {
                continue;
            }
            seen.sort_by(f64::total_cmp);
            let best = seen[seen.len() - 1];
            let worst = seen[0];
            let median = median_of_sorted(&seen);
            let scale = if best > median {
                best - median
            } else {
                best - worst
            };
            for (c, row) in self.scores.iter().enumerate() {
                if let Some(s) = row.get(d).copied().flatten().filter(|s| s.is_finite()) {
                    out[c][d] = if scale > 0.0 {
                        ((best - s) / scale).clamp(0.0, REGRET_CAP)
                    } else {
                        0.0
                    };
                }
            }
        }
        out
    }
}

/// Greedy portfolio of at most `size` configurations among `allowed`, judged on `datasets`
/// (indices into the regret matrix `regret[c][d]`), best first. See the module documentation
/// for the rule, its ties (then the lower index) and its duplicates (never chosen, so the
/// result may be shorter than `size`).
pub fn greedy(
    regret: &[Vec<f64>],
    allowed: &[usize],
    datasets: &[usize],
    size: usize,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    if datasets.is_empty() {
        return chosen;
    }
    let mut reached = vec![f64::INFINITY; datasets.len()];
    let mean_regret =
        |c: usize| datasets.iter().map(|&d| regret[c][d]).sum::<f64>() / datasets.len() as f64;
    while chosen.len() < size {
        let mut best: Option<(f64, f64, usize)> = None;
        for &c in allowed {
            if chosen.contains(&c) || chosen.iter().any(|&m| duplicate(regret, c, m, datasets)) {
                continue;
            }
            let objective: f64 = datasets
                .iter()
                .zip(&reached)
                .map(|(&d, &r)| r.min(regret[c][d]))
                .sum::<f64>()
                / datasets.len() as f64;
            let key = (objective, mean_regret(c), c);
            let better = match best {
                None => true,
                Some(b) => {
                    key.0
                        .total_cmp(&b.0)
                        .then(key.1.total_cmp(&b.1))
                        .then(key.2.cmp(&b.2))
                        == std::cmp::Ordering::Less
                }
            };
            if better {
                best = Some(key);
            }
        }
        let Some((_, _, c)) = best else { break };
        for (slot, &d) in reached.iter_mut().zip(datasets) {
            *slot = slot.min(regret[c][d]);
        }
        chosen.push(c);
    }
    chosen
}

/// Whether configurations `a` and `b` are within [`DUPLICATE_REGRET`] of each other on every
/// one of `datasets`.
pub fn duplicate(regret: &[Vec<f64>], a: usize, b: usize, datasets: &[usize]) -> bool {
    datasets
        .iter()
        .all(|&d| (regret[a][d] - regret[b][d]).abs() <= DUPLICATE_REGRET)
}

/// The best regret on dataset `d` reached by the first `k` members of `portfolio`
/// ([`REGRET_CAP`] for an empty prefix).
pub fn regret_at(regret: &[Vec<f64>], portfolio: &[usize], d: usize, k: usize) -> f64 {
    portfolio
        .iter()
        .take(k)
        .map(|&c| regret[c][d])
        .fold(REGRET_CAP, f64::min)
}

/// One dataset's line of a leave-one-out report.
#[derive(Debug, Clone, PartialEq)]
pub struct LooRow {
    /// The held-out dataset.
    pub dataset: String,
    /// Its regret after the first `k` members of the portfolio built on every dataset, one
    /// per requested `k`.
    pub in_sample: Vec<f64>,
    /// Its regret after the first `k` members of the portfolio built without it (nor the
    /// configurations found on it), one per requested `k`.
    pub held_out: Vec<f64>,
    /// That held-out portfolio, as configuration indices, best first.
    pub portfolio: Vec<usize>,
}

/// For every dataset, the portfolio of `size` built without it and the regrets at each `k` of
/// `ks`, beside the in-sample portfolio's (built on all datasets and configurations).
pub fn leave_one_out(m: &ScoreMatrix, size: usize, ks: &[usize]) -> Vec<LooRow> {
    let regret = m.regrets();
    let all_d: Vec<usize> = (0..m.datasets.len()).collect();
    let all_c: Vec<usize> = (0..m.scores.len()).collect();
    let in_sample = greedy(&regret, &all_c, &all_d, size);
    m.datasets
        .iter()
        .enumerate()
        .map(|(d, name)| {
            let others: Vec<usize> = all_d.iter().copied().filter(|&o| o != d).collect();
            let allowed: Vec<usize> = all_c
                .iter()
                .copied()
                .filter(|&c| m.origins.get(c).and_then(Option::as_deref) != Some(name.as_str()))
                .collect();
            let held = greedy(&regret, &allowed, &others, size);
            LooRow {
                dataset: name.clone(),
                in_sample: ks
                    .iter()
                    .map(|&k| regret_at(&regret, &in_sample, d, k))
                    .collect(),
                held_out: ks
                    .iter()
                    .map(|&k| regret_at(&regret, &held, d, k))
                    .collect(),
                portfolio: held,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(scores: Vec<Vec<Option<f64>>>, origins: Vec<Option<&str>>) -> ScoreMatrix {
        let n_d = scores[0].len();
        ScoreMatrix {
            datasets: (0..n_d).map(|d| format!("d{d}")).collect(),
            scores,
            origins: origins.into_iter().map(|o| o.map(str::to_string)).collect(),
        }
    }

    #[test]
    fn regret_is_zero_at_the_best_one_at_the_median_and_capped_for_failures() {
        let m = matrix(
            vec![
                vec![Some(0.9), Some(-1.0)],
                vec![Some(0.8), Some(-2.0)],
                vec![Some(0.7), None],
                vec![Some(0.0), Some(-3.0)],
            ],
            vec![None; 4],
        );
        let r = m.regrets();
        assert_eq!(r[0][0], 0.0);
        // Median of 0.9, 0.8, 0.7, 0.0 is 0.75: regret of 0.8 = 0.1 / 0.15.
        assert!((r[1][0] - 0.1 / 0.15).abs() < 1e-12);
        // 0.0 is far below the median: capped.
        assert_eq!(r[3][0], REGRET_CAP);
        // Not evaluated on d1: capped; the median of -1, -2, -3 is -2.
        assert_eq!(r[2][1], REGRET_CAP);
        assert_eq!(r[1][1], 1.0);
    }

    #[test]
    fn the_first_member_is_good_everywhere_not_best_somewhere() {
        // Config 0 is best on d0 and awful elsewhere; config 1 is second everywhere.
        let m = matrix(
            vec![
                vec![Some(1.0), Some(0.0), Some(0.0)],
                vec![Some(0.9), Some(0.9), Some(0.9)],
                vec![Some(0.5), Some(1.0), Some(0.5)],
                vec![Some(0.5), Some(0.5), Some(1.0)],
                vec![Some(0.4), Some(0.4), Some(0.4)],
            ],
            vec![None; 5],
        );
        let r = m.regrets();
        let p = greedy(&r, &[0, 1, 2, 3, 4], &[0, 1, 2], 3);
        assert_eq!(p[0], 1, "{r:?}");
        // The portfolio then adds what covers the datasets config 1 is not best on.
        assert!(p[1..].contains(&2) || p[1..].contains(&3));
        assert_eq!(regret_at(&r, &p, 1, 0), REGRET_CAP);
    }

    #[test]
    fn leave_one_out_keeps_the_held_out_datasets_own_configurations_out() {
        // Config 0 was found on d0 and is only good there: in-sample it serves d0 perfectly,
        // held out it is not available, so d0's held-out regret is worse.
        let m = matrix(
            vec![
                vec![Some(1.0), Some(0.1), Some(0.1)],
                vec![Some(0.5), Some(1.0), Some(0.9)],
                vec![Some(0.4), Some(0.9), Some(1.0)],
                vec![Some(0.3), Some(0.3), Some(0.3)],
            ],
            vec![Some("d0"), Some("d1"), Some("d2"), None],
        );
        let rows = leave_one_out(&m, 3, &[1, 3]);
        assert_eq!(rows.len(), 3);
        let d0 = &rows[0];
        assert!(!d0.portfolio.contains(&0));
        assert_eq!(d0.in_sample[1], 0.0);
        assert!(d0.held_out[1] > 0.0);
        // Held out, d1's own configuration is gone but d2's is close on d1.
        assert!(!rows[1].portfolio.contains(&1));
        assert!(rows[1].held_out[1] < 1.0);
    }

    #[test]
    fn greedy_is_deterministic_and_respects_size_and_allowed() {
        // Four configurations with the same mean regret, none a duplicate of another.
        let m = matrix(
            vec![
                vec![Some(1.0), Some(0.0)],
                vec![Some(0.0), Some(1.0)],
                vec![Some(0.75), Some(0.25)],
                vec![Some(0.25), Some(0.75)],
            ],
            vec![None; 4],
        );
        let r = m.regrets();
        assert_eq!(greedy(&r, &[3, 1, 2], &[0, 1], 2), vec![1, 2]);
        assert!(greedy(&r, &[0, 1], &[], 2).is_empty());
    }

    #[test]
    fn near_duplicates_of_a_chosen_configuration_are_never_chosen() {
        // Config 0 is good everywhere and reaches regret 0 on every dataset; configs 1 and 2
        // are near-copies of it (the filler that ties would otherwise pick, as they have the
        // lowest mean regret left); config 3 is worse on the mean but different.
        let m = matrix(
            vec![
                vec![Some(1.0), Some(1.0), Some(1.0)],
                vec![Some(0.999), Some(1.0), Some(0.998)],
                vec![Some(0.995), Some(0.999), Some(1.0)],
                vec![Some(0.3), Some(0.9), Some(0.6)],
                vec![Some(0.0), Some(0.0), Some(0.0)],
                vec![Some(0.5), Some(0.5), Some(0.5)],
            ],
            vec![None; 6],
        );
        let r = m.regrets();
        assert!(
            duplicate(&r, 0, 1, &[0, 1, 2]) && duplicate(&r, 0, 2, &[0, 1, 2]),
            "{r:?}"
        );
        let p = greedy(&r, &[0, 1, 2, 3, 4, 5], &[0, 1, 2], 4);
        assert_eq!(p[0], 0);
        assert!(!p.contains(&1) && !p.contains(&2), "{p:?}");
        assert_eq!(p[1], 3, "{p:?}");
        // A configuration close everywhere but one dataset is not a duplicate.
        let m = matrix(
            vec![
                vec![Some(1.0), Some(1.0), Some(0.5)],
                vec![Some(0.999), Some(1.0), Some(1.0)],
                vec![Some(0.5), Some(0.5), Some(0.8)],
                vec![Some(0.0), Some(0.0), Some(0.0)],
            ],
            vec![None; 4],
        );
        let r = m.regrets();
        assert!(!duplicate(&r, 0, 1, &[0, 1, 2]));
        assert_eq!(greedy(&r, &[0, 1, 2, 3], &[0, 1, 2], 2), vec![1, 0]);
    }
}
