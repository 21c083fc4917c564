//! `--format json` (issue 15): every command that prints a result prints one schema-tagged
//! JSON document on stdout, and docs/json.md lists every field of every document, checked both
//! ways against what the real binary prints.

use crate::util::{example, run_in, run_json};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A small, quick search space: the defaults of logistic and a small gbdt come first.
const SPACE: &str = r#"version = 1
name = "json-test"
description = "logistic and a small gbdt"

[families.logistic]
[families.logistic.params]
alpha = { type = "float", low = 1e-4, high = 1.0, log = true, default = 1e-3 }

[families.gbdt]
[families.gbdt.params]
learning_rate = { type = "float", low = 0.03, high = 0.3, log = true, default = 0.1 }
max_rounds = { type = "int", low = 20, high = 60, log = true, default = 30 }
max_bins = { type = "fixed", value = 63 }
"#;

/// Fit a 4-trial study on churn.csv into `dir/db` with `--format json` (progress on stderr,
/// not `-q`: stdout must still be the one document) and return the fit document.
fn fit(dir: &Path) -> Value {
    std::fs::write(dir.join("space.toml"), SPACE).unwrap();
    let churn = example("churn.csv");
    let churn = churn.to_str().unwrap();
    run_json(
        dir,
        &[
            "fit",
            churn,
            "--store",
            "db",
            "--space",
            "space.toml",
            "--strategy",
            "random",
            "--max-trials",
            "4",
            "--seed-variance",
            "0",
            "--format",
            "json",
        ],
    )
}

/// The schema tag of a document: its `schema` key, or that of every row of an array (all
/// equal).
fn tag_of(doc: &Value) -> String {
    match doc {
        Value::Array(rows) => {
            let tags: BTreeSet<&str> = rows.iter().map(|r| r["schema"].as_str().unwrap()).collect();
            assert_eq!(tags.len(), 1, "rows with different schema tags: {tags:?}");
            tags.into_iter().next().unwrap().to_string()
        }
        _ => doc["schema"]
            .as_str()
            .unwrap_or_else(|| panic!("no schema tag in {doc}"))
            .to_string(),
    }
}

/// Every command that prints a result, run with `--format json` on one study: the documents
/// by schema tag.
fn every_document(dir: &Path) -> BTreeMap<String, Value> {
    let mut docs = BTreeMap::new();
    let mut add = |doc: Value| {
        let tag = tag_of(&doc);
        assert!(docs.insert(tag.clone(), doc).is_none(), "{tag} twice");
    };
    add(fit(dir));
    let churn = example("churn.csv");
    let churn = churn.to_str().unwrap();
    let text = std::fs::read_to_string(churn).unwrap();
    let first_rows: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(dir.join("new.csv"), first_rows.join("\n") + "\n").unwrap();
    let board = run_json(dir, &["leaderboard", "--store", "db", "--format", "json"]);
    let gbdt = board
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["family"] == "gbdt")
        .expect("a gbdt trial")["trial_id"]
        .to_string();
    add(board);
    let j = ["--format", "json"];
    let runs: Vec<Vec<&str>> = vec![
        vec!["studies", "--store", "db"],
        vec!["show", "1", "--store", "db"],
        vec!["compare", "0", "1", "--store", "db"],
        vec!["predict", churn, "--store", "db", "--output", "preds.csv"],
        vec!["export", "--store", "db", "--output", "m.automl"],
        vec!["report", "--store", "db", "--output", "r.md"],
        vec!["portfolio", "db", "--output", "p.toml"],
        vec!["evaluate", churn, "--store", "db"],
        vec![
            "explain",
            "--store",
            "db",
            "--trial",
            &gbdt,
            "--repeats",
            "1",
        ],
        vec![
            "explain", "--store", "db", "--trial", &gbdt, "--rows", "new.csv",
        ],
        vec!["drift", churn, "--store", "db"],
        // After predict and drift, so that the log has both kinds of records.
        vec!["serve-report", "--store", "db"],
    ];
    for mut args in runs {
        args.extend(j);
        add(run_json(dir, &args));
    }
    docs
}

/// One documented field: its path and the types it may have.
struct Field {
    path: String,
    types: Vec<String>,
}

/// One document of docs/json.md: its schema tag and fields.
struct Spec {
    tag: String,
    fields: Vec<Field>,
}

/// The documents of docs/json.md: a `Schema: \`automl.x/N\`` line opens one, and the rows of
/// the table after it (`| \`path\` | type or type | meaning |`) are its fields.
fn parse_spec(md: &str) -> Vec<Spec> {
    let mut specs: Vec<Spec> = Vec::new();
    let mut open = false;
    for line in md.lines() {
        if line.starts_with("## ") {
            open = false;
        } else if let Some(rest) = line.strip_prefix("Schema: `") {
            let tag = rest.split('`').next().unwrap().to_string();
            specs.push(Spec {
                tag,
                fields: Vec::new(),
            });
            open = true;
        } else if open && line.starts_with("| `") {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let path = cells[0].trim_matches('`').to_string();
            let types = cells[1]
                .split(" or ")
                .map(|t| t.trim().to_string())
                .collect();
            specs.last_mut().unwrap().fields.push(Field { path, types });
        }
    }
    specs
}

/// A path's steps: a key, every element of an array (`[]`), every value of an object (`*`).
#[derive(Debug)]
enum Step {
    Key(String),
    Each,
    Values,
}

fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for seg in path.split('.') {
        if seg == "*" {
            out.push(Step::Values);
            continue;
        }
        let name = seg.trim_end_matches("[]");
        if !name.is_empty() {
            out.push(Step::Key(name.to_string()));
        }
        for _ in 0..(seg.len() - name.len()) / 2 {
            out.push(Step::Each);
        }
    }
    out
}

/// What a path leads to: values, or a key left out of an object.
enum Found<'a> {
    Val(&'a Value),
    Absent,
}

fn resolve<'a>(doc: &'a Value, path: &str) -> Vec<Found<'a>> {
    let mut found = vec![Found::Val(doc)];
    for step in steps(path) {
        let mut next = Vec::new();
        for f in found {
            match (&step, f) {
                (Step::Key(k), Found::Val(Value::Object(o))) => {
                    next.push(o.get(k).map_or(Found::Absent, Found::Val))
                }
                (Step::Each, Found::Val(Value::Array(a))) => next.extend(a.iter().map(Found::Val)),
                (Step::Values, Found::Val(Value::Object(o))) => {
                    next.extend(o.values().map(Found::Val))
                }
                // Under a null, absent or other-typed parent there is nothing to check.
                _ => {}
            }
        }
        found = next;
    }
    found
}

fn has_type(f: &Found, t: &str) -> bool {
    match f {
        Found::Absent => t == "absent",
        Found::Val(v) => match t {
            "any" => true,
            "null" => v.is_null(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        },
    }
}

/// Every printed field path of `v` at `path` (objects by key, arrays as `[]`), except inside
/// objects the spec lists as free-form (`path.*`).
fn printed_paths(v: &Value, path: &str, free: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) if !free.contains(path) => {
            for (k, child) in o {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.insert(p.clone());
                printed_paths(child, &p, free, out);
            }
        }
        Value::Array(a) => {
            let p = format!("{path}[]");
            for child in a {
                out.insert(p.clone());
                printed_paths(child, &p, free, out);
            }
        }
        _ => {}
    }
}

/// What is wrong with `doc` against `spec`: a documented field missing or of another type,
/// a printed field not documented, an unknown type word.
fn problems(spec: &Spec, doc: &Value) -> Vec<String> {
    const TYPES: [&str; 9] = [
        "string", "integer", "number", "boolean", "array", "object", "null", "any", "absent",
    ];
    let mut out = Vec::new();
    for f in &spec.fields {
        for t in &f.types {
            if !TYPES.contains(&t.as_str()) {
                out.push(format!(
                    "{}: `{}` has the unknown type `{t}`",
                    spec.tag, f.path
                ));
            }
        }
        for found in resolve(doc, &f.path) {
            if !f.types.iter().any(|t| has_type(&found, t)) {
                let what = match found {
                    Found::Absent => "absent".to_string(),
                    Found::Val(v) => v.to_string(),
                };
                out.push(format!(
                    "{}: `{}` is documented as {} but is {what}",
                    spec.tag,
                    f.path,
                    f.types.join(" or ")
                ));
            }
        }
    }
    let documented: BTreeSet<String> = spec.fields.iter().map(|f| f.path.clone()).collect();
    let free: BTreeSet<String> = documented
        .iter()
        .filter_map(|p| p.strip_suffix(".*").map(str::to_string))
        .collect();
    let mut printed = BTreeSet::new();
    printed_paths(doc, "", &free, &mut printed);
    for p in printed.difference(&documented) {
        out.push(format!(
            "{}: `{p}` is printed but not in docs/json.md",
            spec.tag
        ));
    }
    out
}

fn read_spec() -> Vec<Spec> {
    let md = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
        .expect("docs/json.md");
    let specs = parse_spec(&md);
    assert!(specs.len() >= 14, "docs/json.md: {} documents", specs.len());
    for s in &specs {
        assert!(
            s.fields.len() >= 5 && s.fields.iter().any(|f| f.path.ends_with("schema")),
            "docs/json.md: {} lists {} fields (and must list `schema`)",
            s.tag,
            s.fields.len()
        );
    }
    specs
}

#[test]
fn every_command_prints_the_documented_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let docs = every_document(dir);
    let specs = read_spec();
    let documented: BTreeSet<&str> = specs.iter().map(|s| s.tag.as_str()).collect();
    let printed: BTreeSet<&str> = docs.keys().map(String::as_str).collect();
    assert_eq!(
        documented, printed,
        "docs/json.md and the commands disagree on the documents"
    );
    let mut all = Vec::new();
    for spec in &specs {
        all.extend(problems(spec, &docs[&spec.tag]));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));

    // What the documents say is what happened.
    let fit = &docs["automl.fit/1"];
    assert_eq!(fit["trials"], 4);
    assert!(fit["final"]["interval"][0].as_f64() <= fit["final"]["mean"].as_f64());
    let predict = &docs["automl.predict/1"];
    assert_eq!(predict["rows"], 600);
    assert!(dir.join("preds.csv").exists());
    let export = &docs["automl.export/1"];
    let size = std::fs::metadata(dir.join("m.automl")).unwrap().len();
    assert_eq!(export["bytes"], size);
    for plot in docs["automl.report/1"]["plots"].as_array().unwrap() {
        assert!(dir.join(plot.as_str().unwrap()).exists(), "{plot}");
    }
    assert_eq!(
        docs["automl.studies/1"]["studies"][0]["study_id"],
        fit["study_id"]
    );

    // The check itself fails on a renamed field: the old name is missing, the new one is not
    // documented.
    let fit_spec = specs.iter().find(|s| s.tag == "automl.fit/1").unwrap();
    let mut renamed = fit.clone();
    let id = renamed.as_object_mut().unwrap().remove("study_id").unwrap();
    renamed["study"] = id;
    let found = problems(fit_spec, &renamed).join("\n");
    assert!(found.contains("`study_id` is documented"), "{found}");
    assert!(found.contains("`study` is printed"), "{found}");
    // And on a nested one inside an array.
    let lb_spec = specs
        .iter()
        .find(|s| s.tag == "automl.leaderboard/1")
        .unwrap();
    let mut board = docs["automl.leaderboard/1"].clone();
    board[0]["params_renamed"] = board[0]["params"].take();
    assert!(!problems(lb_spec, &board).is_empty());
}

#[test]
fn show_json_is_format_json_and_the_leaderboard_stays_an_array() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fit(dir);
    let alias = run_json(dir, &["show", "0", "--store", "db", "--json"]);
    let format = run_json(dir, &["show", "0", "--store", "db", "--format", "json"]);
    assert_eq!(alias, format);
    assert_eq!(alias["schema"], "automl.show/1");
    assert_eq!(alias["trial_id"], 0);
    let board = run_json(dir, &["leaderboard", "--store", "db", "--format", "json"]);
    let rows = board.as_array().expect("the leaderboard is an array");
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["schema"] == "automl.leaderboard/1"));
    // Text mode is unchanged: no JSON, no schema tag.
    let text = run_in(dir, &["studies", "--store", "db"]).ok().stdout();
    assert!(
        text.starts_with("study") && !text.contains("schema"),
        "{text}"
    );
}

#[test]
fn predict_json_refuses_predictions_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let churn = example("churn.csv");
    let r = run_in(
        tmp.path(),
        &[
            "predict",
            churn.to_str().unwrap(),
            "--output",
            "/dev/stdout",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code(), 2);
    assert!(r.stdout().is_empty());
    assert!(r.stderr().contains("--format json"), "{}", r.stderr());
}
