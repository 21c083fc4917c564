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
//! **What a member costs.** The regret alone ignores what a member costs, and a rebuild chosen by
//! it alone scored worse end to end than the file it would have replaced (BENCHMARKS.md §36: its
//! seven `mlp` configurations took 7.6-13.9 s each on rodents, half of a 60 s search's trials).
//! With [`Worth::Anytime`] the greedy choice values a portfolio on a dataset by the **anytime
//! regret** of running its members one after another for a budget of `budget_s` fit seconds:
//! the mean over that time of the best regret reached so far ([`REGRET_CAP`] until the first
//! member finishes, and a member finishing after the budget never counts). A configuration
//! then earns its place by how much it lowers the regret *and how early*: a cheap good one
//! comes before an expensive slightly better one, and one that would only finish past the
//! budget is worth nothing there. Once no candidate can lower the anytime regret anywhere (the
//! budget is spent on every dataset), the steps fall back to the best regret reached, then to
//! the mean regret.
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
    /// `fit_s[c][d]`: the fit seconds (summed over the folds) configuration `c` took on
    /// dataset `d`, 0 when unknown. Used by [`Worth::Anytime`] only; may be empty otherwise.
    pub fit_s: Vec<Vec<f64>>,
}

/// How the greedy choice values a portfolio on one dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Worth {
    /// The best regret of its members, whatever they cost.
    Final,
    /// The mean, over the first `budget_s` fit seconds of running its members in order, of the
    /// best regret reached so far (see the module documentation).
    Anytime {
        /// The fit seconds (summed over folds and workers) a search spends on the portfolio.
        budget_s: f64,
    },
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
/// (indices into the regret matrix `regret[c][d]`) by `worth` (with the fit seconds
/// `fit_s[c][d]` for [`Worth::Anytime`]), best first. See the module documentation for the
/// rule, its ties (then the lower index) and its duplicates (never chosen, so the result may be
/// shorter than `size`).
pub fn greedy(
    regret: &[Vec<f64>],
    fit_s: &[Vec<f64>],
    worth: Worth,
    allowed: &[usize],
    datasets: &[usize],
    size: usize,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    if datasets.is_empty() {
        return chosen;
    }
    let n = datasets.len() as f64;
    let budget = match worth {
        Worth::Final => None,
        Worth::Anytime { budget_s } => Some(budget_s.max(f64::MIN_POSITIVE)),
    };
    let cost = |c: usize, d: usize| {
        fit_s
            .get(c)
            .and_then(|row| row.get(d))
            .copied()
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(0.0)
    };
    // Per dataset: the best regret so far, the fit seconds spent so far, and the anytime
    // regret so far (the best regret held from each member's end to the budget's).
    let mut reached = vec![REGRET_CAP; datasets.len()];
    let mut spent = vec![0.0; datasets.len()];
    let mut anytime = vec![REGRET_CAP; datasets.len()];
    let mean_regret = |c: usize| datasets.iter().map(|&d| regret[c][d]).sum::<f64>() / n;
    while chosen.len() < size {
        let mut best: Option<([f64; 3], usize)> = None;
        for &c in allowed {
            if chosen.contains(&c) || chosen.iter().any(|&m| duplicate(regret, c, m, datasets)) {
                continue;
            }
            let mut final_sum = 0.0;
            let mut anytime_sum = 0.0;
            for (i, &d) in datasets.iter().enumerate() {
                let r = reached[i].min(regret[c][d]);
                final_sum += r;
                if let Some(b) = budget {
                    let held = (b - spent[i] - cost(c, d)).max(0.0) / b;
                    anytime_sum += anytime[i] - (reached[i] - r) * held;
                }
            }
            let key = [anytime_sum / n, final_sum / n, mean_regret(c)];
            let better = match &best {
                None => true,
                Some((b, bc)) => {
                    key[0]
                        .total_cmp(&b[0])
                        .then(key[1].total_cmp(&b[1]))
                        .then(key[2].total_cmp(&b[2]))
                        .then(c.cmp(bc))
                        == std::cmp::Ordering::Less
                }
            };
            if better {
                best = Some((key, c));
            }
        }
        let Some((_, c)) = best else { break };
        for (i, &d) in datasets.iter().enumerate() {
            spent[i] += cost(c, d);
            if let Some(b) = budget {
                let r = reached[i].min(regret[c][d]);
                anytime[i] -= (reached[i] - r) * (b - spent[i]).max(0.0) / b;
            }
            reached[i] = reached[i].min(regret[c][d]);
        }
        chosen.push(c);
    }
    chosen
}

/// The anytime regret on dataset `d` of running `portfolio`'s members in order for `budget_s`
/// fit seconds: the mean over that time of the best regret reached so far (see the module
/// documentation).
pub fn anytime_regret(
    regret: &[Vec<f64>],
    fit_s: &[Vec<f64>],
    portfolio: &[usize],
    d: usize,
    budget_s: f64,
) -> f64 {
    let b = budget_s.max(f64::MIN_POSITIVE);
    let (mut reached, mut spent, mut area) = (REGRET_CAP, 0.0, REGRET_CAP);
    for &c in portfolio {
        spent += fit_s
            .get(c)
            .and_then(|row| row.get(d))
            .copied()
            .unwrap_or(0.0);
        let r = reached.min(regret[c][d]);
        area -= (reached - r) * (b - spent).max(0.0) / b;
        reached = r;
    }
    area
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
    /// With [`Worth::Anytime`]: the dataset's anytime regret under the in-sample portfolio and
    /// under the held-out one.
    pub anytime: Option<(f64, f64)>,
}

/// For every dataset, the portfolio of `size` built without it and the regrets at each `k` of
/// `ks`, beside the in-sample portfolio's (built on all datasets and configurations), each
/// chosen by `worth`.
pub fn leave_one_out(m: &ScoreMatrix, size: usize, ks: &[usize], worth: Worth) -> Vec<LooRow> {
    let regret = m.regrets();
    let all_d: Vec<usize> = (0..m.datasets.len()).collect();
    let all_c: Vec<usize> = (0..m.scores.len()).collect();
    let in_sample = greedy(&regret, &m.fit_s, worth, &all_c, &all_d, size);
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
            let held = greedy(&regret, &m.fit_s, worth, &allowed, &others, size);
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
                anytime: match worth {
                    Worth::Final => None,
                    Worth::Anytime { budget_s } => Some((
                        anytime_regret(&regret, &m.fit_s, &in_sample, d, budget_s),
                        anytime_regret(&regret, &m.fit_s, &held, d, budget_s),
                    )),
                },
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
            fit_s: Vec::new(),
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
        let p = greedy(&r, &[], Worth::Final, &[0, 1, 2, 3, 4], &[0, 1, 2], 3);
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
        let rows = leave_one_out(&m, 3, &[1, 3], Worth::Final);
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
        assert_eq!(
            greedy(&r, &[], Worth::Final, &[3, 1, 2], &[0, 1], 2),
            vec![1, 2]
        );
        assert!(greedy(&r, &[], Worth::Final, &[0, 1], &[], 2).is_empty());
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
        let p = greedy(&r, &[], Worth::Final, &[0, 1, 2, 3, 4, 5], &[0, 1, 2], 4);
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
        assert_eq!(
            greedy(&r, &[], Worth::Final, &[0, 1, 2, 3], &[0, 1, 2], 2),
            vec![1, 0]
        );
    }

    #[test]
    fn anytime_worth_puts_a_cheap_good_configuration_before_an_expensive_best_one() {
        // On both datasets: config 0 is the best (regret 0) but takes 50 s, config 1 is a
        // third of the way to the median (regret 1/3) in 5 s, config 2 is poor and takes 1 s,
        // config 3 is the worst.
        let m = ScoreMatrix {
            fit_s: vec![vec![50.0; 2], vec![5.0; 2], vec![1.0; 2], vec![1.0; 2]],
            ..matrix(
                vec![
                    vec![Some(1.0), Some(1.0)],
                    vec![Some(0.9), Some(0.9)],
                    vec![Some(0.5), Some(0.5)],
                    vec![Some(0.0), Some(0.0)],
                ],
                vec![None; 4],
            )
        };
        let r = m.regrets();
        let all = [0, 1, 2, 3];
        // The regret alone takes the best first, whatever it costs.
        assert_eq!(
            greedy(&r, &m.fit_s, Worth::Final, &all, &[0, 1], 2),
            vec![0, 1]
        );
        // Within 60 s: config 1 holds regret 1/3 for 55 of the 60 s, config 0 would hold 0 for
        // only 10, so config 1 comes first, then config 0 (it still finishes at 55 s).
        let p = greedy(
            &r,
            &m.fit_s,
            Worth::Anytime { budget_s: 60.0 },
            &all,
            &[0, 1],
            2,
        );
        assert_eq!(p, vec![1, 0]);
        let expected = 2.0 - (2.0 - 1.0 / 3.0) * 55.0 / 60.0 - (1.0 / 3.0) * 5.0 / 60.0;
        assert!((anytime_regret(&r, &m.fit_s, &p, 0, 60.0) - expected).abs() < 1e-12);
        // Within 40 s config 0 cannot finish after config 1, so it is worth nothing there: the
        // anytime regret is config 1's alone. It is still chosen second, on the best regret
        // reached (the fallback once no candidate lowers the anytime regret).
        let p = greedy(
            &r,
            &m.fit_s,
            Worth::Anytime { budget_s: 40.0 },
            &all,
            &[0, 1],
            2,
        );
        assert_eq!(p, vec![1, 0]);
        let alone = anytime_regret(&r, &m.fit_s, &[1], 1, 40.0);
        assert!((alone - (2.0 - (2.0 - 1.0 / 3.0) * 35.0 / 40.0)).abs() < 1e-12);
        assert_eq!(anytime_regret(&r, &m.fit_s, &p, 1, 40.0), alone);
        // And alone, an expensive best configuration past the budget leaves the cap.
        assert_eq!(anytime_regret(&r, &m.fit_s, &[0], 0, 40.0), REGRET_CAP);
        // Leave-one-out reports both anytime regrets when asked.
        let rows = leave_one_out(&m, 2, &[1, 2], Worth::Anytime { budget_s: 60.0 });
        let (ins, held) = rows[0].anytime.unwrap();
        assert!((ins - expected).abs() < 1e-12 && (held - expected).abs() < 1e-12);
        assert!(
            leave_one_out(&m, 2, &[1], Worth::Final)[0]
                .anytime
                .is_none()
        );
    }
}
