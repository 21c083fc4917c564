//! `automl evaluate`: the live score on labelled rows beside the CV estimate, the verdict and
//! its exit code (0 within noise, 3 worse beyond noise, 2 an error).

use crate::util::{example, run_in};
use serde_json::Value;
use std::path::Path;

/// Split the churn example: the first 400 rows to train on, the other 200 as "new" labelled
/// rows; `edit` may change each new row's fields.
fn split(dir: &Path, edit: impl Fn(usize, &mut Vec<String>)) {
    let text = std::fs::read_to_string(example("churn.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows: Vec<&str> = lines.collect();
    let mut train = vec![header.clone()];
    train.extend(rows[..400].iter().map(|r| r.to_string()));
    std::fs::write(dir.join("train.csv"), train.join("\n") + "\n").unwrap();
    let mut new = vec![header];
    for (i, r) in rows[400..].iter().enumerate() {
        let mut f: Vec<String> = r.split(',').map(str::to_string).collect();
        edit(i, &mut f);
        new.push(f.join(","));
    }
    std::fs::write(dir.join("new.csv"), new.join("\n") + "\n").unwrap();
}

fn fit(dir: &Path) {
    run_in(
        dir,
        &[
            "fit",
            "train.csv",
            "--store",
            "s",
            "--max-trials",
            "3",
            "--space",
            "fast",
            "--seed",
            "1",
            "-q",
        ],
    )
    .ok();
}

fn json(dir: &Path) -> (i32, Value) {
    let r = run_in(
        dir,
        &["evaluate", "--store", "s", "new.csv", "--format", "json"],
    );
    let v = serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", r.stdout(), r.stderr()));
    (r.code(), v)
}

#[test]
fn held_out_rows_are_within_noise_and_flipped_labels_are_worse_with_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Two new rows lose their label: they are skipped and counted.
    split(dir, |i, f| {
        if i < 2 {
            *f.last_mut().unwrap() = String::new();
        }
    });
    fit(dir);
    let (code, v) = json(dir);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["metric"], "roc_auc");
    assert_eq!(v["rows"], 198);
    assert_eq!(v["rows_without_label"], 2);
    assert_eq!(v["cv_folds"], 5);
    assert_ne!(v["verdict"], "worse", "{v}");
    let live = v["live"].as_f64().unwrap();
    let iv = &v["live_interval"];
    assert!(
        iv[0].as_f64().unwrap() <= live && live <= iv[1].as_f64().unwrap(),
        "{v}"
    );
    assert!(live > 0.7, "a fair model on held-out rows: {v}");
    // An exported model file carries its CV estimate: the same figures without the store.
    run_in(dir, &["export", "--store", "s", "--output", "m.automl"]).ok();
    let r = run_in(
        dir,
        &[
            "evaluate", "--model", "m.automl", "new.csv", "--format", "json",
        ],
    )
    .ok();
    let from_file: Value = serde_json::from_str(&r.stdout()).unwrap();
    for k in ["live", "cv", "cv_std", "z", "verdict", "rows"] {
        assert_eq!(from_file[k], v[k], "{k}");
    }
    // The report states the same CV estimate and interval that evaluate compares with.
    run_in(dir, &["report", "--store", "s", "-o", "r.md"]).ok();
    let report = std::fs::read_to_string(dir.join("r.md")).unwrap();
    let line = report
        .lines()
        .find(|l| l.starts_with("- estimate: roc_auc "))
        .unwrap_or_else(|| panic!("no estimate line:\n{report}"));
    let f4 = |x: &Value| format!("{:.4}", x.as_f64().unwrap());
    let want = format!(
        "roc_auc {} ± {} over 5 folds",
        f4(&v["cv"]),
        f4(&v["cv_std"])
    );
    assert!(line.contains(&want), "{line} vs {want}");
    let iv = format!(
        "interval of the CV mean [{}, {}]",
        f4(&v["cv_interval"][0]),
        f4(&v["cv_interval"][1])
    );
    assert!(line.contains(&iv), "{line} vs {iv}");
    let table = run_in(dir, &["evaluate", "--store", "s", "new.csv"])
        .ok()
        .stdout();
    assert!(
        table.contains("live") && table.contains("cv") && table.contains("gap:"),
        "{table}"
    );

    // The labels flipped: the model now looks much worse than its CV estimate.
    split(dir, |_, f| {
        let l = f.last_mut().unwrap();
        *l = if l == "yes" {
            "no".into()
        } else {
            "yes".into()
        };
    });
    let (code, v) = json(dir);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["verdict"], "worse");
    assert!(v["gap"].as_f64().unwrap() < 0.0, "{v}");
    let r = run_in(dir, &["evaluate", "--store", "s", "new.csv"]);
    assert_eq!(r.code(), 3);
    assert!(r.stdout().contains("worse beyond noise"), "{}", r.stdout());
}

#[test]
fn unusable_labels_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    split(dir, |i, f| {
        if i == 5 {
            *f.last_mut().unwrap() = "maybe".into();
        }
    });
    fit(dir);
    let r = run_in(dir, &["evaluate", "--store", "s", "new.csv"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("line 7") && r.stderr().contains("`maybe`"),
        "{}",
        r.stderr()
    );
    // Without the target column.
    let text = std::fs::read_to_string(dir.join("new.csv")).unwrap();
    let cut: Vec<String> = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    std::fs::write(dir.join("new.csv"), cut.join("\n") + "\n").unwrap();
    let r = run_in(dir, &["evaluate", "--store", "s", "new.csv"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("no column `churned`"), "{}", r.stderr());
}
