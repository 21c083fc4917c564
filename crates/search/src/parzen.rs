//! Parzen (kernel density) estimators over the `[0,1]^d` encoding, as used by TPE: truncated
//! gaussian kernels on numeric dimensions, a discrete kernel on categorical ones, plus a uniform
//! prior component.

use automl_core::Rng;

/// Kind of one encoded dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DimKind {
    /// Continuous or integer, in [0,1].
    Numeric,
    /// Categorical with this many equal-width bins.
    Categorical(usize),
}

/// Probability that a categorical kernel keeps its centre's choice, spread over k choices.
fn keep_probability(k: usize) -> f64 {
    if k <= 1 {
        1.0
    } else {
        1.0 - 0.5 * (k as f64 - 1.0) / k as f64
    }
}

fn bin(u: f64, k: usize) -> usize {
    ((u.clamp(0.0, 1.0) * k as f64).floor() as usize).min(k - 1)
}

/// Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7).
fn norm_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// A mixture of one kernel per observed point and a uniform prior.
#[derive(Debug, Clone)]
pub(crate) struct Parzen {
    kinds: Vec<DimKind>,
    centers: Vec<Vec<f64>>,
    /// Bandwidth per numeric dimension (shared by all kernels).
    sigma: Vec<f64>,
    /// log of the truncation mass per kernel and dimension.
    log_mass: Vec<Vec<f64>>,
    prior_weight: f64,
}

impl Parzen {
    /// Fit to `points` (each of length `kinds.len()`).
    pub fn fit(kinds: &[DimKind], points: &[Vec<f64>]) -> Parzen {
        let n = points.len();
        let d = kinds.len();
        let min_sigma = (0.25 / (1.0 + n as f64).sqrt()).max(0.04);
        let sigma: Vec<f64> = (0..d)
            .map(|j| {
                if n < 2 {
                    return 0.5;
                }
                let mean = points.iter().map(|p| p[j]).sum::<f64>() / n as f64;
                let var =
                    points.iter().map(|p| (p[j] - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
                let scott = 1.06 * var.sqrt() * (n as f64).powf(-1.0 / (d as f64 + 4.0));
                scott.clamp(min_sigma, 0.5)
            })
            .collect();
        let log_mass = points
            .iter()
            .map(|c| {
                (0..d)
                    .map(|j| {
                        let s = sigma[j];
                        let mass = norm_cdf((1.0 - c[j]) / s) - norm_cdf(-c[j] / s);
                        mass.max(1e-12).ln()
                    })
                    .collect()
            })
            .collect();
        Parzen {
            kinds: kinds.to_vec(),
            centers: points.to_vec(),
            sigma,
            log_mass,
            prior_weight: 1.0,
        }
    }

    /// log density at `x` (a point of [0,1]^d; coordinates are clamped).
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        let total = self.centers.len() as f64 + self.prior_weight;
        // Components: the uniform prior (log density 0) and one kernel per centre.
        let mut terms = Vec::with_capacity(self.centers.len() + 1);
        terms.push(self.prior_weight.ln());
        for (c, lm) in self.centers.iter().zip(&self.log_mass) {
            let mut lp = 0.0;
            for (j, kind) in self.kinds.iter().enumerate() {
                let xj = x[j].clamp(0.0, 1.0);
                lp += match *kind {
                    DimKind::Numeric => {
                        let z = (xj - c[j]) / self.sigma[j];
                        -0.5 * z * z - self.sigma[j].ln() - LN_SQRT_2PI - lm[j]
                    }
                    DimKind::Categorical(k) => {
                        let keep = keep_probability(k);
                        let p = if k <= 1 || bin(xj, k) == bin(c[j], k) {
                            keep
                        } else {
                            (1.0 - keep) / (k as f64 - 1.0)
                        };
                        (p * k as f64).ln()
                    }
                };
            }
            terms.push(lp);
        }
        let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln() - total.ln()
    }

    /// Bandwidth of each dimension (numeric ones; categorical dimensions ignore it).
    pub fn sigma(&self) -> &[f64] {
        &self.sigma
    }

    /// A random point drawn from the mixture.
    pub fn sample(&self, rng: &mut Rng) -> Vec<f64> {
        let total = self.centers.len() as f64 + self.prior_weight;
        let pick = rng.f64() * total;
        if pick < self.prior_weight || self.centers.is_empty() {
            return (0..self.kinds.len()).map(|_| rng.f64()).collect();
        }
        let c = &self.centers[((pick - self.prior_weight) as usize).min(self.centers.len() - 1)];
        self.kinds
            .iter()
            .enumerate()
            .map(|(j, kind)| match *kind {
                DimKind::Numeric => {
                    for _ in 0..32 {
                        let x = c[j] + self.sigma[j] * rng.normal();
                        if (0.0..=1.0).contains(&x) {
                            return x;
                        }
                    }
                    c[j].clamp(0.0, 1.0)
                }
                DimKind::Categorical(k) => {
                    let b = bin(c[j], k);
                    let b = if k <= 1 || rng.bernoulli(keep_probability(k)) {
                        b
                    } else {
                        (b + 1 + rng.below(k - 1)) % k
                    };
                    (b as f64 + 0.5) / k as f64
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_matches_known_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((norm_cdf(-1.0) - 0.158_655).abs() < 1e-5);
    }

    #[test]
    fn density_integrates_to_one_and_peaks_at_data() {
        let kinds = [DimKind::Numeric];
        let p = Parzen::fit(&kinds, &[vec![0.2], vec![0.25], vec![0.9]]);
        let n = 10_000;
        let integral: f64 = (0..n)
            .map(|i| p.log_pdf(&[(i as f64 + 0.5) / n as f64]).exp())
            .sum::<f64>()
            / n as f64;
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        assert!(p.log_pdf(&[0.22]) > p.log_pdf(&[0.6]));
        let kinds = [DimKind::Categorical(3), DimKind::Numeric];
        let p = Parzen::fit(&kinds, &[vec![0.5, 0.1], vec![0.5, 0.2]]);
        let integral: f64 = (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                (0..3)
                    .map(|b| p.log_pdf(&[(b as f64 + 0.5) / 3.0, u]).exp())
                    .sum::<f64>()
                    / 3.0
            })
            .sum::<f64>()
            / n as f64;
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        let mut rng = Rng::new(4);
        let middle = (0..2000)
            .filter(|_| bin(p.sample(&mut rng)[0], 3) == 1)
            .count();
        // Expected share: 2/3 kernels keeping the centre w.p. 2/3, plus the uniform prior: 5/9.
        assert!((1000..1250).contains(&middle), "{middle}");
    }
}
