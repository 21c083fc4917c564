//! Validation splits: coverage, stratification, reproducibility.

use automl_core::Task;
use automl_data::{holdout, kfold};

fn labels(n: usize, k: usize) -> Vec<f64> {
    // Imbalanced: class c has weight c + 1.
    let total: usize = (1..=k).sum();
    (0..n)
        .map(|i| {
            let mut r = (i * 7919) % total;
            let mut c = 0;
            while r > c {
                r -= c + 1;
                c += 1;
            }
            c as f64
        })
        .collect()
}

#[test]
fn kfold_covers_every_row_once_and_stratifies() {
    let y = labels(503, 4);
    for k in [2, 5, 10] {
        let splits = kfold(&y, Task::Multiclass, k, 7);
        assert_eq!(splits.len(), k);
        let mut seen = vec![0; y.len()];
        for s in &splits {
            assert_eq!(s.train.len() + s.valid.len(), y.len());
            for &i in &s.valid {
                seen[i] += 1;
            }
            assert!(s.train.iter().all(|i| !s.valid.contains(i)));
            assert!(s.valid.windows(2).all(|w| w[0] < w[1]));
            // Each class's share in the fold is within one row of its expected count.
            for c in 0..4 {
                let total = y.iter().filter(|&&v| v == c as f64).count();
                let in_fold = s.valid.iter().filter(|&&i| y[i] == c as f64).count();
                let expected = total as f64 / k as f64;
                assert!(
                    (in_fold as f64 - expected).abs() <= 1.0,
                    "class {c}: {in_fold} vs {expected}"
                );
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        let sizes: Vec<usize> = splits.iter().map(|s| s.valid.len()).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }
}

#[test]
fn kfold_reproducible_and_seed_dependent() {
    let y: Vec<f64> = (0..200).map(|i| (i as f64 * 0.37).sin()).collect();
    let a = kfold(&y, Task::Regression, 5, 42);
    assert_eq!(a, kfold(&y, Task::Regression, 5, 42));
    assert_ne!(a, kfold(&y, Task::Regression, 5, 43));
    // Shuffled: the first fold is not the first 40 rows.
    assert_ne!(a[0].valid, (0..40).collect::<Vec<_>>());
    let mut all: Vec<usize> = a.iter().flat_map(|s| s.valid.clone()).collect();
    all.sort();
    assert_eq!(all, (0..200).collect::<Vec<_>>());
    // k larger than n is clamped.
    assert_eq!(kfold(&[1.0, 2.0, 3.0], Task::Regression, 10, 1).len(), 3);
}

#[test]
fn holdout_stratified_and_reproducible() {
    let y = labels(1000, 3);
    let s = holdout(&y, Task::Multiclass, 0.2, 9);
    assert_eq!(s, holdout(&y, Task::Multiclass, 0.2, 9));
    assert_eq!(s.train.len() + s.valid.len(), 1000);
    assert!((s.valid.len() as i64 - 200).abs() <= 2);
    for c in 0..3 {
        let total = y.iter().filter(|&&v| v == c as f64).count() as f64;
        let in_valid = s.valid.iter().filter(|&&i| y[i] == c as f64).count() as f64;
        assert!((in_valid - 0.2 * total).abs() <= 1.0);
    }
    // A class with two rows lands in both parts.
    let mut y2 = vec![0.0; 50];
    y2[10] = 1.0;
    y2[40] = 1.0;
    let s2 = holdout(&y2, Task::Binary, 0.1, 3);
    assert_eq!(s2.valid.iter().filter(|&&i| y2[i] == 1.0).count(), 1);
    assert_eq!(s2.train.iter().filter(|&&i| y2[i] == 1.0).count(), 1);
    let r = holdout(
        &(0..100).map(f64::from).collect::<Vec<_>>(),
        Task::Regression,
        0.25,
        1,
    );
    assert_eq!(r.valid.len(), 25);
}
