//! The `class_weight` parameter: a search-space parameter the trainer applies (as per-row
//! sample weights) rather than the model families, so any family whose fit honours
//! `sample_weight` gains it without a change. `balanced` weights a row of class `c` by
//! `n / (k · n_c)` (scikit-learn's definition over the training rows of the fit); `none`, or
//! the parameter absent (every configuration stored before it existed), is unweighted.

use automl_core::{ParamValue, Params, Task};
use std::borrow::Cow;

/// Name of the parameter.
pub const CLASS_WEIGHT: &str = "class_weight";

/// `params` without `class_weight` (what the family sees) and the row weights it asks for on
/// the training targets `y` (class indices). Regression, `none` and an absent parameter give
/// no weights; an unknown value is an error message.
pub fn split_class_weight<'a>(
    params: &'a Params,
    y: &[f64],
    task: Task,
    n_classes: usize,
) -> Result<(Cow<'a, Params>, Option<Vec<f64>>), String> {
    let Some(v) = params.get(CLASS_WEIGHT) else {
        return Ok((Cow::Borrowed(params), None));
    };
    let mut rest = params.clone();
    rest.remove(CLASS_WEIGHT);
    let balanced = match v {
        ParamValue::Str(s) if s == "none" => false,
        ParamValue::Str(s) if s == "balanced" => true,
        other => {
            return Err(format!(
                "class_weight must be `none` or `balanced`, got {other:?}"
            ));
        }
    };
    if !balanced || !task.is_classification() || y.is_empty() {
        return Ok((Cow::Owned(rest), None));
    }
    let k = n_classes.max(2);
    let mut counts = vec![0usize; k];
    for &c in y {
        if let Some(n) = counts.get_mut(c as usize) {
            *n += 1;
        }
    }
    let present = counts.iter().filter(|c| **c > 0).count().max(1) as f64;
    let n = y.len() as f64;
    let w = y
        .iter()
        .map(|&c| {
            let nc = counts.get(c as usize).copied().unwrap_or(0).max(1) as f64;
            n / (present * nc)
        })
        .collect();
    Ok((Cow::Owned(rest), Some(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights_are_n_over_k_n_class() {
        let mut p = Params::new();
        p.insert("n_trees".into(), ParamValue::Int(10));
        // Absent: untouched, unweighted.
        let (rest, w) = split_class_weight(&p, &[0.0, 1.0], Task::Binary, 2).unwrap();
        assert!(matches!(rest, Cow::Borrowed(_)) && w.is_none());
        p.insert(CLASS_WEIGHT.into(), ParamValue::Str("balanced".into()));
        let y = [0.0, 0.0, 0.0, 1.0];
        let (rest, w) = split_class_weight(&p, &y, Task::Binary, 2).unwrap();
        assert!(!rest.contains_key(CLASS_WEIGHT) && rest.contains_key("n_trees"));
        let w = w.unwrap();
        assert_eq!(w, vec![4.0 / 6.0, 4.0 / 6.0, 4.0 / 6.0, 2.0]);
        assert!((w.iter().sum::<f64>() - 4.0).abs() < 1e-12);
        // Regression ignores it; `none` is unweighted; nonsense is refused.
        assert!(
            split_class_weight(&p, &y, Task::Regression, 0)
                .unwrap()
                .1
                .is_none()
        );
        p.insert(CLASS_WEIGHT.into(), ParamValue::Str("none".into()));
        assert!(
            split_class_weight(&p, &y, Task::Binary, 2)
                .unwrap()
                .1
                .is_none()
        );
        p.insert(CLASS_WEIGHT.into(), ParamValue::Str("heavy".into()));
        assert!(split_class_weight(&p, &y, Task::Binary, 2).is_err());
    }
}
