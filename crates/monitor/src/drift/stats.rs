//! The statistics of the drift checks, written out so their behaviour never depends on a
//! third-party crate's version: the two-sample Kolmogorov-Smirnov test, the chi-square test of
//! homogeneity (with rare levels pooled), the 1-Wasserstein distance, the Jensen-Shannon
//! distance, the population stability index, the AUC with its Mann-Whitney p-value, and Holm's
//! correction for testing many hypotheses.

/// Kolmogorov's limiting survival function `Q(λ) = 2 Σ_{k≥1} (-1)^{k-1} exp(-2k²λ²)`
/// (scipy's `kstwobign.sf`).
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 0.2 {
        // The series converges slowly here and the value is 1 to double precision.
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += sign * term;
        if term < 1e-16 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// The two-sample KS statistic `D = sup |F_a - F_b|` of two sorted samples (NaN-free).
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// The asymptotic p-value of a two-sample KS statistic `d` for samples of `n` and `m` values,
/// with Stephens' small-sample correction: `Q((√e + 0.12 + 0.11/√e) d)`, `e = nm/(n+m)`.
pub fn ks_pvalue(d: f64, n: usize, m: usize) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let en = ((n as f64 * m as f64) / (n as f64 + m as f64)).sqrt();
    kolmogorov_sf((en + 0.12 + 0.11 / en) * d)
}

/// The 1-Wasserstein (earth mover's) distance between the empirical distributions of two
/// sorted samples: `∫ |F_a(x) - F_b(x)| dx`.
pub fn wasserstein1(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut x = a[0].min(b[0]);
    let mut w = 0.0;
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        w += (i as f64 / n - j as f64 / m).abs() * (next - x);
        x = next;
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
    }
    w
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; about 15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised upper incomplete gamma function `Q(s, x) = Γ(s, x) / Γ(s)`.
pub fn gamma_q(s: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_pre = -x + s * x.ln() - ln_gamma(s);
    if x < s + 1.0 {
        // Series for P, Q = 1 - P.
        let (mut sum, mut term, mut ap) = (1.0 / s, 1.0 / s, s);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * ln_pre.exp()).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Q (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - s;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - s);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (ln_pre.exp() * h).clamp(0.0, 1.0)
    }
}

/// The chi-square survival function with `dof` degrees of freedom (scipy's `chi2.sf`).
pub fn chi2_sf(x: f64, dof: f64) -> f64 {
    if dof <= 0.0 {
        return 1.0;
    }
    gamma_q(dof / 2.0, x / 2.0)
}

/// The standard normal survival function `P(Z > z)` (scipy's `norm.sf`), via `erfc`.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (`erfc(x) = Q(1/2, x²)` for `x ≥ 0`).
pub fn erfc(x: f64) -> f64 {
    if x >= 0.0 {
        gamma_q(0.5, x * x)
    } else {
        2.0 - gamma_q(0.5, x * x)
    }
}

/// The result of a chi-square test of homogeneity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    /// The statistic.
    pub statistic: f64,
    /// Degrees of freedom (bins after pooling, minus one).
    pub dof: usize,
    /// The p-value.
    pub p_value: f64,
}

/// The chi-square test of homogeneity of two count vectors over the same bins (a 2 x K
/// table). Bins whose smaller expected count is below 5 are pooled together (and the pool
/// with the smallest bin when it is still too small), so the asymptotic distribution holds.
pub fn chi2_homogeneity(a: &[f64], b: &[f64]) -> ChiSquare {
    let na: f64 = a.iter().sum();
    let nb: f64 = b.iter().sum();
    let n = na + nb;
    let none = ChiSquare {
        statistic: 0.0,
        dof: 0,
        p_value: 1.0,
    };
    if na <= 0.0 || nb <= 0.0 {
        return none;
    }
    let small = |ca: f64, cb: f64| (ca + cb) * na.min(nb) / n < 5.0;
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let mut pool = (0.0, 0.0);
    for (&ca, &cb) in a.iter().zip(b) {
        if ca + cb <= 0.0 {
            continue;
        }
        if small(ca, cb) {
            pool.0 += ca;
            pool.1 += cb;
        } else {
            bins.push((ca, cb));
        }
    }
    if pool.0 + pool.1 > 0.0 {
        if small(pool.0, pool.1) && !bins.is_empty() {
            let k = (0..bins.len())
                .min_by(|&i, &j| (bins[i].0 + bins[i].1).total_cmp(&(bins[j].0 + bins[j].1)))
                .unwrap_or(0);
            bins[k].0 += pool.0;
            bins[k].1 += pool.1;
        } else {
            bins.push(pool);
        }
    }
    if bins.len() < 2 {
        return none;
    }
    let mut stat = 0.0;
    for &(ca, cb) in &bins {
        let col = ca + cb;
        let ea = col * na / n;
        let eb = col * nb / n;
        stat += (ca - ea).powi(2) / ea + (cb - eb).powi(2) / eb;
    }
    let dof = bins.len() - 1;
    ChiSquare {
        statistic: stat,
        dof,
        p_value: chi2_sf(stat, dof as f64),
    }
}

/// Normalise counts to frequencies (all zero when the counts sum to zero).
pub fn normalise(counts: &[f64]) -> Vec<f64> {
    let s: f64 = counts.iter().sum();
    counts
        .iter()
        .map(|c| if s > 0.0 { c / s } else { 0.0 })
        .collect()
}

/// The Jensen-Shannon distance (the square root of the divergence, base 2, in [0, 1])
/// between two frequency vectors over the same bins (scipy's `jensenshannon(p, q, base=2)`).
pub fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let p = normalise(p);
    let q = normalise(q);
    let mut d = 0.0;
    for (&a, &b) in p.iter().zip(&q) {
        let m = (a + b) / 2.0;
        if a > 0.0 {
            d += 0.5 * a * (a / m).log2();
        }
        if b > 0.0 {
            d += 0.5 * b * (b / m).log2();
        }
    }
    d.max(0.0).sqrt()
}

/// The population stability index `Σ (q - p) ln(q / p)` of frequencies `q` (new) against `p`
/// (reference) over the same bins; empty bins count as 0.0001 so the index stays finite.
pub fn psi(p: &[f64], q: &[f64]) -> f64 {
    let p = normalise(p);
    let q = normalise(q);
    p.iter()
        .zip(&q)
        .map(|(&a, &b)| {
            let (a, b) = (a.max(1e-4), b.max(1e-4));
            (b - a) * (b / a).ln()
        })
        .sum()
}

/// The area under the ROC curve of `scores` for the rows whose `labels` are true, ties
/// counted half (the Mann-Whitney U over `n1 n0`); 0.5 when one side is empty. The metric of
/// `automl_core` (one implementation of the ranks).
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let a = automl_core::metrics::roc_auc(labels, scores);
    if a.is_nan() { 0.5 } else { a }
}

/// The one-sided p-value of an AUC above 0.5 under "the scores do not separate the groups"
/// (the Mann-Whitney normal approximation, variance `(n0 + n1 + 1) / (12 n0 n1)`).
pub fn auc_pvalue(auc: f64, n0: usize, n1: usize) -> f64 {
    if n0 == 0 || n1 == 0 {
        return 1.0;
    }
    let (a, b) = (n0 as f64, n1 as f64);
    let sd = ((a + b + 1.0) / (12.0 * a * b)).sqrt();
    normal_sf((auc - 0.5) / sd)
}

/// Holm's step-down adjusted p-values (controls the family-wise error rate: under no drift at
/// all, the chance that any adjusted p-value falls below α is at most α).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut out = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in idx.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

/// The `q`-quantile (0..=1) of sorted values, linearly interpolated (numpy's default).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}
