//! The drift statistics against known values. The reference values are scipy's (1.11):
//! critical values from `kstwobign.isf`, `chi2.isf` and `norm.isf`, so the survival functions
//! must give back the level, and a few closed forms.

use automl_monitor::drift::stats::*;

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b}");
}

#[test]
fn kolmogorov_distribution() {
    // scipy.stats.kstwobign.isf(0.05) = 1.3580986393225505, .isf(0.01) = 1.6276236115189
    close(kolmogorov_sf(1.358_098_639_322_550_5), 0.05, 1e-9);
    close(kolmogorov_sf(1.627_623_611_518_9), 0.01, 1e-9);
    // scipy.stats.kstwobign.sf(1.0) = 0.26999967167735456
    close(kolmogorov_sf(1.0), 0.269_999_671_677_354_56, 1e-12);
    assert_eq!(kolmogorov_sf(0.0), 1.0);
    assert!(kolmogorov_sf(10.0) < 1e-80);
}

#[test]
fn ks_two_sample() {
    // F_a(4) = 1, F_b(4) = 2/5: D = 0.6 (scipy.stats.ks_2samp gives the same statistic).
    close(
        ks_statistic(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0, 7.0]),
        0.6,
        1e-12,
    );
    assert_eq!(ks_statistic(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
    // Identical samples: p = 1; a large D on large samples: tiny p.
    assert_eq!(ks_pvalue(0.0, 100, 100), 1.0);
    assert!(ks_pvalue(0.3, 1000, 1000) < 1e-30);
    // The p-value is Q((√e + 0.12 + 0.11/√e) D) with e = nm/(n+m) = 50.
    let en = 50f64.sqrt();
    close(
        ks_pvalue(0.2, 100, 100),
        kolmogorov_sf((en + 0.12 + 0.11 / en) * 0.2),
        1e-15,
    );
}

#[test]
fn chi_square_and_normal() {
    // scipy.stats.chi2.isf(0.05, 1) = 3.841458820694124, isf(0.05, 5) = 11.070497693516351,
    // isf(0.01, 10) = 23.209251158954356.
    close(chi2_sf(3.841_458_820_694_124, 1.0), 0.05, 1e-10);
    close(chi2_sf(11.070_497_693_516_351, 5.0), 0.05, 1e-10);
    close(chi2_sf(23.209_251_158_954_356, 10.0), 0.01, 1e-10);
    // Two degrees of freedom: exp(-x/2).
    for x in [0.5, 3.0, 40.0] {
        close(chi2_sf(x, 2.0), (-x / 2.0f64).exp(), 1e-12);
    }
    // scipy.stats.norm.isf(0.025) = 1.959963984540054; norm.sf(3) = 0.0013498980316300933
    close(normal_sf(1.959_963_984_540_054), 0.025, 1e-12);
    close(normal_sf(3.0), 0.001_349_898_031_630_093_3, 1e-14);
    close(normal_sf(-1.0), 1.0 - 0.158_655_253_931_457_05, 1e-12);
    close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-13);
    close(ln_gamma(10.0), 362_880f64.ln(), 1e-12);
}

#[test]
fn homogeneity_test() {
    // scipy.stats.chi2_contingency([[10, 20], [20, 10]], correction=False):
    // statistic 6.666666666666667, dof 1, p 0.009823.
    let c = chi2_homogeneity(&[10.0, 20.0], &[20.0, 10.0]);
    close(c.statistic, 20.0 / 3.0, 1e-12);
    assert_eq!(c.dof, 1);
    close(c.p_value, 0.009_823, 2e-6);
    // Same proportions: statistic 0.
    let c = chi2_homogeneity(&[100.0, 200.0, 300.0], &[10.0, 20.0, 30.0]);
    close(c.statistic, 0.0, 1e-12);
    close(c.p_value, 1.0, 1e-12);
    // A level seen only on one side, rare ones pooled: still a valid test.
    let c = chi2_homogeneity(&[500.0, 500.0, 1.0, 0.0], &[400.0, 400.0, 0.0, 200.0]);
    assert_eq!(c.dof, 2, "the rare level joins the pool: {c:?}");
    assert!(c.p_value < 1e-30);
}

#[test]
fn distances() {
    // scipy.stats.wasserstein_distance([0, 1], [2, 3]) = 2.0; ([0, 1, 3], [5, 6, 8]) = 5.0
    close(wasserstein1(&[0.0, 1.0], &[2.0, 3.0]), 2.0, 1e-12);
    close(wasserstein1(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]), 5.0, 1e-12);
    // ([0, 1, 3], [0, 1]): |1/3 - 1/2| on [0, 1) plus |2/3 - 1| on [1, 3) = 5/6
    close(
        wasserstein1(&[0.0, 1.0, 3.0], &[0.0, 1.0]),
        5.0 / 6.0,
        1e-12,
    );
    // scipy.spatial.distance.jensenshannon([1, 0], [0, 1], base=2) = 1.0;
    // jensenshannon([0.5, 0.5], [0.9, 0.1], base=2): the closed form with the mixture [0.7, 0.3]
    close(js_distance(&[1.0, 0.0], &[0.0, 1.0]), 1.0, 1e-12);
    close(js_distance(&[3.0, 3.0], &[0.5, 0.5]), 0.0, 1e-12);
    let jsd = 0.5 * (0.5 * (0.5f64 / 0.7).log2() + 0.5 * (0.5f64 / 0.3).log2())
        + 0.5 * (0.9 * (0.9f64 / 0.7).log2() + 0.1 * (0.1f64 / 0.3).log2());
    close(js_distance(&[0.5, 0.5], &[0.9, 0.1]), jsd.sqrt(), 1e-12);
    // PSI: (0.6-0.5) ln(0.6/0.5) + (0.4-0.5) ln(0.4/0.5)
    let want = 0.1 * (1.2f64).ln() - 0.1 * (0.8f64).ln();
    close(psi(&[50.0, 50.0], &[60.0, 40.0]), want, 1e-12);
}

#[test]
fn auc_and_holm() {
    // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
    close(
        auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
        0.75,
        1e-12,
    );
    // Ties count half.
    close(auc(&[1.0, 1.0], &[false, true]), 0.5, 1e-12);
    close(auc_pvalue(0.5, 100, 100), 0.5, 1e-12);
    assert!(auc_pvalue(0.7, 1000, 1000) < 1e-40);
    // statsmodels multipletests([0.01, 0.04, 0.03], method='holm') = [0.03, 0.06, 0.06]
    let h = holm(&[0.01, 0.04, 0.03]);
    for (a, b) in h.iter().zip([0.03, 0.06, 0.06]) {
        close(*a, b, 1e-12);
    }
}
