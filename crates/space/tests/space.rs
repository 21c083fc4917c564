//! Integration tests of automl-space: the shipped files, every validation error, and the
//! sampling / mutation / crossover / encoding operations.

use automl_core::{ParamValue, Params, Rng, Task};
use automl_space::{Distribution, SearchSpace, SpaceError};

/// A space with conditional parameters (`when`), a task-restricted parameter and family, and a
/// fixed-only family; shared with the property tests.
const SMALL: &str = include_str!("fixtures/small.toml");

fn small() -> SearchSpace {
    SearchSpace::from_toml_str(SMALL, "small.toml").unwrap()
}

fn err(text: &str) -> SpaceError {
    match SearchSpace::from_toml_str(text, "bad.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

fn with_param(param: &str) -> String {
    format!("version = 1\n[families.f.params]\n{param}\n")
}

#[test]
fn shipped_spaces_parse() {
    for name in automl_space::BUILTIN_NAMES {
        let s = SearchSpace::builtin(name).unwrap();
        assert_eq!(s.name, name);
        assert_eq!(s.version, 1);
        assert!(!s.description.is_empty());
        assert!(s.source.contains("[families."));
        for task in Task::ALL {
            assert!(
                !s.families_for(task).is_empty(),
                "{name} has no family for {task}"
            );
        }
    }
    let d = SearchSpace::builtin("default").unwrap();
    // File order is kept.
    assert_eq!(d.families[0].name, "logistic");
    assert_eq!(d.families.last().unwrap().name, "mlp");
    let svm = d.family("svm").unwrap();
    assert_eq!(
        svm.params
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["c", "kernel", "gamma_scale", "epsilon", "cat_encoding"]
    );
    assert_eq!(
        svm.param("gamma_scale").unwrap().when,
        vec![("kernel".to_string(), vec!["rbf".to_string()])]
    );
    assert_eq!(
        svm.param("epsilon").unwrap().tasks,
        Some(vec![Task::Regression])
    );
    assert_eq!(
        d.family("gbdt").unwrap().param("max_bins").unwrap().dist,
        Distribution::Fixed(ParamValue::Int(255))
    );
    assert_eq!(
        d.family("linear").unwrap().tasks,
        Some(vec![Task::Regression])
    );
    assert!(
        d.families_for(Task::Binary)
            .iter()
            .all(|f| f.name != "ridge")
    );
    assert!(SearchSpace::builtin("nope").is_none());
    let f = SearchSpace::builtin("fast").unwrap();
    assert_eq!(
        f.family("random_forest")
            .unwrap()
            .default_params(Task::Binary)
            .get("criterion"),
        Some(&ParamValue::Str("gini".into()))
    );
    assert!(
        !f.family("random_forest")
            .unwrap()
            .default_params(Task::Regression)
            .contains_key("criterion")
    );
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../search-spaces/fast.toml"
    ));
    let s = SearchSpace::load(path).unwrap();
    assert_eq!(
        s,
        SearchSpace::builtin("fast")
            .unwrap()
            .clone_with_source(&s.source)
    );
    let e = SearchSpace::load(std::path::Path::new("/nonexistent/space.toml")).unwrap_err();
    assert!(matches!(e, SpaceError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/space.toml"));
}

trait CloneWithSource {
    fn clone_with_source(&self, source: &str) -> SearchSpace;
}
impl CloneWithSource for SearchSpace {
    fn clone_with_source(&self, source: &str) -> SearchSpace {
        SearchSpace {
            source: source.to_string(),
            ..self.clone()
        }
    }
}

#[test]
fn syntax_error_has_line_and_column() {
    let e =
        err("version = 1\n[families.f.params]\nx = { type = \"float\", low = 0.0 high = 1.0 }\n");
    match &e {
        SpaceError::Syntax {
            origin,
            line,
            column,
            ..
        } => {
            assert_eq!(origin, "bad.toml");
            assert_eq!(*line, 3);
            assert!(*column > 1);
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(e.to_string().starts_with("bad.toml:3:"), "{e}");
}

#[test]
fn missing_version_and_families() {
    let e = err("[families.f.params]\nx = { type = \"fixed\", value = 1 }\n");
    assert!(
        matches!(&e, SpaceError::Missing { key, .. } if key == "version"),
        "{e}"
    );
    assert!(e.to_string().contains("version = 1"));
    let e = err("version = 1\nname = \"x\"\n");
    assert!(
        matches!(&e, SpaceError::Missing { key, .. } if key == "families"),
        "{e}"
    );
    let e = err("version = 1\n[families]\n");
    assert!(matches!(&e, SpaceError::Missing { .. }), "{e}");
}

#[test]
fn unknown_version() {
    let e = err("version = 2\n[families.f.params]\nx = { type = \"fixed\", value = 1 }\n");
    assert!(
        matches!(&e, SpaceError::UnknownVersion { value, .. } if value == "2"),
        "{e}"
    );
}

#[test]
fn unknown_type() {
    let e = err(&with_param(
        "x = { type = \"double\", low = 0.0, high = 1.0, default = 0.5 }",
    ));
    match &e {
        SpaceError::UnknownType { key, value, .. } => {
            assert_eq!(key, "families.f.params.x.type");
            assert_eq!(value, "double");
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn bad_ranges() {
    let e = err(&with_param(
        "x = { type = \"float\", low = 1.0, high = 1.0, default = 1.0 }",
    ));
    assert!(
        matches!(&e, SpaceError::BadRange { key, .. } if key == "families.f.params.x"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"int\", low = 10, high = 2, default = 5 }",
    ));
    assert!(
        matches!(&e, SpaceError::BadRange { low, high, .. } if low == "10" && high == "2"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = inf, default = 1.0 }",
    ));
    assert!(matches!(&e, SpaceError::BadRange { .. }), "{e}");
}

#[test]
fn log_needs_positive_low() {
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = 1.0, log = true, default = 0.5 }",
    ));
    assert!(
        matches!(&e, SpaceError::BadLog { low, .. } if low == "0.0"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"int\", low = 0, high = 8, log = true, default = 2 }",
    ));
    assert!(matches!(&e, SpaceError::BadLog { .. }), "{e}");
}

#[test]
fn bad_defaults() {
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = 1.0, default = 2.0 }",
    ));
    assert!(
        matches!(&e, SpaceError::BadDefault { key, value, .. } if key == "families.f.params.x.default" && value == "2.0"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"int\", low = 0, high = 10, default = 2.5 }",
    ));
    assert!(matches!(&e, SpaceError::BadDefault { .. }), "{e}");
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = 1.0, default = \"half\" }",
    ));
    assert!(matches!(&e, SpaceError::BadDefault { .. }), "{e}");
    let e = err(&with_param(
        "x = { type = \"categorical\", choices = [\"a\", \"b\"], default = \"c\" }",
    ));
    assert!(
        matches!(&e, SpaceError::BadDefault { value, .. } if value == "\"c\""),
        "{e}"
    );
    assert!(e.to_string().contains("a, b"));
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = 1.0 }",
    ));
    assert!(
        matches!(&e, SpaceError::Missing { key, .. } if key == "families.f.params.x.default"),
        "{e}"
    );
}

#[test]
fn bad_choices() {
    let e = err(&with_param(
        "x = { type = \"categorical\", choices = [], default = \"a\" }",
    ));
    assert!(
        matches!(&e, SpaceError::BadChoices { key, .. } if key == "families.f.params.x.choices"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"categorical\", choices = [\"a\", \"a\"], default = \"a\" }",
    ));
    assert!(matches!(&e, SpaceError::BadChoices { .. }), "{e}");
    let e = err(&with_param(
        "x = { type = \"categorical\", choices = [1, 2], default = \"a\" }",
    ));
    assert!(matches!(&e, SpaceError::WrongType { .. }), "{e}");
}

#[test]
fn bad_conditions() {
    let e = err(&with_param(
        "k = { type = \"categorical\", choices = [\"a\", \"b\"], default = \"a\" }\n\
         x = { type = \"float\", low = 0.0, high = 1.0, default = 0.5, when = { kernel = [\"a\"] } }",
    ));
    assert!(
        matches!(&e, SpaceError::BadWhen { key, value, .. } if key == "families.f.params.x.when" && value == "`kernel`"),
        "{e}"
    );
    assert!(e.to_string().contains("known: k, x"), "{e}");
    let e = err(&with_param(
        "k = { type = \"categorical\", choices = [\"a\", \"b\"], default = \"a\" }\n\
         x = { type = \"float\", low = 0.0, high = 1.0, default = 0.5, when = { k = [\"c\"] } }",
    ));
    assert!(
        matches!(&e, SpaceError::BadWhen { value, .. } if value.contains("\"c\"")),
        "{e}"
    );
    let e = err(&with_param(
        "a = { type = \"int\", low = 1, high = 3, default = 1, when = { b = [1] } }\n\
         b = { type = \"int\", low = 1, high = 3, default = 1, when = { a = [1] } }",
    ));
    assert!(
        matches!(&e, SpaceError::BadWhen { problem, .. } if problem.contains("cycle")),
        "{e}"
    );
    let e = err(&with_param(
        "a = { type = \"int\", low = 1, high = 3, default = 1, when = { a = [1] } }",
    ));
    assert!(matches!(&e, SpaceError::BadWhen { .. }), "{e}");
    let e = err(&with_param(
        "a = { type = \"int\", low = 1, high = 3, default = 1 }\n\
         b = { type = \"int\", low = 1, high = 3, default = 1, when = { a = [7] } }",
    ));
    assert!(matches!(&e, SpaceError::BadWhen { .. }), "{e}");
}

#[test]
fn unknown_tasks() {
    let e = err("version = 1\n[families.f]\ntasks = [\"ranking\"]\n[families.f.params]\n");
    assert!(
        matches!(&e, SpaceError::UnknownTask { key, value, .. } if key == "families.f.tasks" && value == "ranking"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"fixed\", value = 1, tasks = [\"binary\", \"clustering\"] }",
    ));
    assert!(
        matches!(&e, SpaceError::UnknownTask { key, .. } if key == "families.f.params.x.tasks"),
        "{e}"
    );
}

#[test]
fn unknown_keys() {
    let e = err("version = 1\nauthor = \"me\"\n[families.f.params]\n");
    assert!(
        matches!(&e, SpaceError::UnknownKey { key, .. } if key == "author"),
        "{e}"
    );
    let e = err("version = 1\n[families.f]\nparam = {}\n");
    assert!(
        matches!(&e, SpaceError::UnknownKey { key, allowed, .. } if key == "families.f.param" && allowed == "tasks, params"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = 1.0, default = 0.5, step = 0.1 }",
    ));
    assert!(
        matches!(&e, SpaceError::UnknownKey { key, .. } if key == "families.f.params.x.step"),
        "{e}"
    );
    // A key of another type is rejected too.
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = 1.0, default = 0.5, choices = [\"a\"] }",
    ));
    assert!(matches!(&e, SpaceError::UnknownKey { .. }), "{e}");
    let e = err(&with_param(
        "x = { type = \"fixed\", value = 1, default = 1 }",
    ));
    assert!(matches!(&e, SpaceError::UnknownKey { .. }), "{e}");
}

#[test]
fn wrong_value_types() {
    let e = err(&with_param(
        "x = { type = \"int\", low = 0.5, high = 3, default = 1 }",
    ));
    assert!(
        matches!(&e, SpaceError::WrongType { key, .. } if key == "families.f.params.x.low"),
        "{e}"
    );
    let e = err(&with_param(
        "x = { type = \"float\", low = 0.0, high = 1.0, log = \"yes\", default = 0.5 }",
    ));
    assert!(matches!(&e, SpaceError::WrongType { .. }), "{e}");
}

#[test]
fn defaults_respect_tasks_and_conditions() {
    let s = small();
    let svm = s.family("svm").unwrap();
    let d = svm.default_params(Task::Binary);
    let keys: Vec<&str> = d.keys().map(String::as_str).collect();
    assert_eq!(keys, ["c", "gamma", "kernel", "shrinking"]);
    assert!(svm.is_valid(Task::Binary, &d));
    let r = svm.default_params(Task::Regression);
    assert!(r.contains_key("epsilon"));
    assert_eq!(s.families_for(Task::Regression).len(), 2);
    assert_eq!(svm.dims(Task::Binary), 5);
    assert_eq!(svm.dims(Task::Regression), 6);
    assert_eq!(s.family("linear").unwrap().dims(Task::Binary), 0);
}

#[test]
fn active_params_follow_nested_conditions() {
    let s = small();
    let svm = s.family("svm").unwrap();
    let mut p = Params::new();
    p.insert("kernel".into(), ParamValue::Str("poly".into()));
    p.insert("degree".into(), ParamValue::Int(3));
    let names: Vec<&str> = svm
        .active_params(Task::Binary, &p)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["c", "kernel", "gamma", "degree", "coef0", "shrinking"]
    );
    p.insert("degree".into(), ParamValue::Int(5));
    let names: Vec<&str> = svm
        .active_params(Task::Binary, &p)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["c", "kernel", "gamma", "degree", "shrinking"]);
    p.insert("kernel".into(), ParamValue::Str("linear".into()));
    // degree = 5 is present but inactive, so coef0 stays inactive as well.
    let names: Vec<&str> = svm
        .active_params(Task::Binary, &p)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["c", "kernel", "shrinking"]);
}

#[test]
fn samples_stay_in_range_and_respect_conditions() {
    let s = small();
    let svm = s.family("svm").unwrap();
    let mut rng = Rng::new(3);
    let mut kernels = std::collections::BTreeSet::new();
    let mut degrees = std::collections::BTreeSet::new();
    let mut saw_coef0 = false;
    for _ in 0..2000 {
        for task in Task::ALL {
            let p = svm.sample(task, &mut rng);
            assert!(svm.is_valid(task, &p), "{p:?}");
            let kernel = p["kernel"].as_str().unwrap().to_string();
            assert_eq!(p.contains_key("gamma"), kernel != "linear");
            assert_eq!(p.contains_key("degree"), kernel == "poly");
            let deg = p.get("degree").and_then(|d| d.as_i64());
            assert_eq!(p.contains_key("coef0"), matches!(deg, Some(3 | 4)));
            saw_coef0 |= p.contains_key("coef0");
            assert_eq!(p.contains_key("epsilon"), task == Task::Regression);
            let c = p["c"].as_f64().unwrap();
            assert!((0.01..=100.0).contains(&c));
            kernels.insert(kernel);
            if let Some(d) = deg {
                degrees.insert(d);
            }
        }
    }
    assert_eq!(kernels.len(), 3);
    assert_eq!(degrees.into_iter().collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert!(saw_coef0);
    // Log-uniform: about half of the samples of c fall below the geometric midpoint 1.0.
    let below = (0..4000)
        .filter(|_| svm.sample(Task::Binary, &mut rng)["c"].as_f64().unwrap() < 1.0)
        .count();
    assert!((1700..2300).contains(&below), "{below}");
}

#[test]
fn every_family_of_the_shipped_spaces_samples_validly() {
    let mut rng = Rng::new(11);
    for name in automl_space::BUILTIN_NAMES {
        let s = SearchSpace::builtin(name).unwrap();
        for task in Task::ALL {
            for f in s.families_for(task) {
                assert!(
                    f.is_valid(task, &f.default_params(task)),
                    "{name}/{} default",
                    f.name
                );
                for _ in 0..50 {
                    let p = f.sample(task, &mut rng);
                    assert!(f.is_valid(task, &p), "{name}/{}: {p:?}", f.name);
                    let back = f.decode(task, &f.encode(task, &p));
                    assert_close(&p, &back);
                }
            }
        }
    }
}

fn assert_close(a: &Params, b: &Params) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{a:?} vs {b:?}"
    );
    for (k, va) in a {
        let vb = &b[k];
        match (va, vb) {
            (ParamValue::Float(x), ParamValue::Float(y)) => {
                assert!(
                    (x - y).abs() <= 1e-9 * x.abs().max(1e-12),
                    "{k}: {x} vs {y}"
                )
            }
            _ => assert_eq!(va, vb, "{k}"),
        }
    }
}

#[test]
fn encode_decode_roundtrip() {
    let s = small();
    let mut rng = Rng::new(5);
    for task in Task::ALL {
        for f in s.families_for(task) {
            for _ in 0..300 {
                let p = f.sample(task, &mut rng);
                let u = f.encode(task, &p);
                assert_eq!(u.len(), f.dims(task));
                assert!(u.iter().all(|x| (0.0..=1.0).contains(x)));
                assert_close(&p, &f.decode(task, &u));
            }
        }
    }
    // Inactive conditionals encode as 0.5, and decode drops them.
    let svm = s.family("svm").unwrap();
    let mut p = svm.default_params(Task::Binary);
    p.insert("kernel".into(), ParamValue::Str("linear".into()));
    p.remove("gamma");
    let u = svm.encode(Task::Binary, &p);
    assert_eq!(u[2], 0.5);
    assert!(!svm.decode(Task::Binary, &u).contains_key("gamma"));
    // Arbitrary points decode to valid configurations.
    for _ in 0..500 {
        let u: Vec<f64> = (0..svm.dims(Task::Regression))
            .map(|_| rng.uniform(-0.2, 1.2))
            .collect();
        assert!(svm.is_valid(Task::Regression, &svm.decode(Task::Regression, &u)));
    }
}

#[test]
fn mutate_changes_something_and_stays_valid() {
    let s = small();
    let mut rng = Rng::new(9);
    for task in [Task::Binary, Task::Regression] {
        for name in ["svm", "tree"] {
            let Some(f) = s.family(name).filter(|f| f.applies_to(task)) else {
                continue;
            };
            let mut p = f.sample(task, &mut rng);
            for i in 0..300 {
                let n = 1 + i % 2;
                let child = f.mutate(task, &p, &mut rng, n);
                assert_ne!(child, p, "{name}: mutation changed nothing");
                assert!(f.is_valid(task, &child), "{child:?}");
                p = child;
            }
        }
    }
    // One change of a numeric parameter leaves the others untouched.
    let tree = s.family("tree").unwrap();
    let p = tree.default_params(Task::Binary);
    let child = tree.mutate(Task::Binary, &p, &mut rng, 1);
    let changed = p.iter().filter(|(k, v)| child.get(*k) != Some(v)).count();
    assert_eq!(changed, 1);
    // A family with only fixed parameters has nothing to change.
    let linear = s.family("linear").unwrap();
    let d = linear.default_params(Task::Binary);
    assert_eq!(linear.mutate(Task::Binary, &d, &mut rng, 2), d);
}

#[test]
fn crossover_takes_values_from_parents() {
    let s = small();
    let svm = s.family("svm").unwrap();
    let mut rng = Rng::new(21);
    for _ in 0..300 {
        let a = svm.sample(Task::Regression, &mut rng);
        let b = svm.sample(Task::Regression, &mut rng);
        let c = svm.crossover(Task::Regression, &a, &b, &mut rng);
        assert!(svm.is_valid(Task::Regression, &c));
        for k in ["c", "kernel", "epsilon"] {
            assert!(c[k] == a[k] || c[k] == b[k], "{k}");
        }
    }
}

#[test]
fn same_seed_same_results() {
    let s = SearchSpace::builtin("default").unwrap();
    let gbdt = s.family("gbdt").unwrap();
    let run = |seed: u64| {
        let mut rng = Rng::new(seed);
        let a = gbdt.sample(Task::Binary, &mut rng);
        let b = gbdt.mutate(Task::Binary, &a, &mut rng, 2);
        let c = gbdt.crossover(Task::Binary, &a, &b, &mut rng);
        (a, b, c)
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn restrict_keeps_order_and_reemits_source() {
    let s = SearchSpace::builtin("default").unwrap();
    let r = s.restrict(&["gbdt", "logistic", "no_such_family"]);
    assert_eq!(r.family_names(), ["logistic", "gbdt"]);
    let back = SearchSpace::from_toml_str(&r.source, "restricted").unwrap();
    assert_eq!(back.families, r.families);
    assert_eq!(back.name, "default");
    // The full space survives a write/read cycle too.
    for name in automl_space::BUILTIN_NAMES {
        let s = SearchSpace::builtin(name).unwrap();
        let again = SearchSpace::from_toml_str(&s.to_toml(), "again").unwrap();
        assert_eq!(again.families, s.families);
        assert_eq!(again.description, s.description);
    }
    let small = small();
    let again = SearchSpace::from_toml_str(&small.to_toml(), "again").unwrap();
    assert_eq!(again.families, small.families);
}
