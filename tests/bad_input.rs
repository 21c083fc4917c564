//! Bad input never panics: a table of malformed inputs and flags, each a clear one-line error
//! (exit code 2, naming the file / row / column / flag and what to do) that leaves an existing
//! store untouched, plus the messy-but-valid inputs that must simply work.

use crate::cli::leaderboard_json;
use crate::util::*;
use std::path::Path;

enum Expect {
    /// Exit 2; stderr contains every needle (case-insensitive).
    Error(&'static [&'static str]),
    /// Exit 0.
    Works,
}

struct Case {
    name: &'static str,
    /// Writes its files into the dir and returns the arguments.
    setup: fn(&Path) -> Vec<String>,
    expect: Expect,
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    std::fs::write(dir.join(name), content).unwrap();
    name.to_string()
}

fn fit(file: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["fit", file, "--store", "db", "--max-trials", "2", "--quiet"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !extra.contains(&"--space") {
        v.extend(["--space".to_string(), "fast".to_string()]);
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// A fit that is expected to work goes to its own store, leaving `db` alone.
fn fit_ok(file: &str, extra: &[&str]) -> Vec<String> {
    let mut v = fit(file, extra);
    v[3] = "ok.db".into();
    v
}

const GOOD: &str = "a,b,c,y\n1,x,0.5,no\n2,y,0.1,yes\n3,x,0.3,no\n4,z,0.9,yes\n5,y,0.4,no\n6,x,0.8,yes\n7,z,0.2,no\n8,y,0.7,yes\n9,x,0.6,no\n10,z,0.05,yes\n";

fn rows(n: usize, f: impl Fn(usize) -> String) -> String {
    (0..n).map(f).collect::<Vec<_>>().join("\n") + "\n"
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "missing file",
            setup: |_| fit("nope.csv", &[]),
            expect: Expect::Error(&["nope.csv"]),
        },
        Case {
            name: "directory instead of file",
            setup: |d| {
                std::fs::create_dir_all(d.join("adir")).unwrap();
                fit("adir", &[])
            },
            expect: Expect::Error(&["adir"]),
        },
        Case {
            name: "empty file",
            setup: |d| fit(&write(d, "empty.csv", ""), &[]),
            expect: Expect::Error(&["empty.csv", "empty"]),
        },
        Case {
            name: "header only",
            setup: |d| fit(&write(d, "header.csv", "a,b,y\n"), &[]),
            expect: Expect::Error(&["header.csv", "no data rows"]),
        },
        Case {
            name: "duplicate column names",
            setup: |d| fit(&write(d, "dup.csv", "a,a,y\n1,2,x\n3,4,y\n"), &[]),
            expect: Expect::Error(&["dup.csv", "'a'", "unique"]),
        },
        Case {
            name: "ragged row",
            setup: |d| fit(&write(d, "ragged.csv", "a,b,y\n1,2,x\n3,4\n5,6,y\n"), &[]),
            expect: Expect::Error(&["ragged.csv", "line 3"]),
        },
        Case {
            name: "unterminated quote",
            setup: |d| fit(&write(d, "quote.csv", "a,b,y\n1,\"oops,x\n3,4,y\n"), &[]),
            expect: Expect::Error(&["quote.csv", "line"]),
        },
        Case {
            name: "invalid UTF-8",
            setup: |d| {
                let mut b = b"a,b,y\n1,2,x\n3,".to_vec();
                b.extend_from_slice(&[0xff, 0xfe]);
                b.extend_from_slice(b",y\n");
                fit(&write(d, "utf8.csv", b), &[])
            },
            expect: Expect::Error(&["utf8.csv", "line 3", "utf-8"]),
        },
        Case {
            name: "target column absent",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--target", "label"]),
            expect: Expect::Error(&["label", "available columns"]),
        },
        Case {
            name: "target all missing",
            setup: |d| fit(&write(d, "tmiss.csv", "a,b,y\n1,2,\n3,4,\n5,6,\n"), &[]),
            expect: Expect::Error(&["'y'", "missing"]),
        },
        Case {
            name: "one class only",
            setup: |d| {
                fit(
                    &write(
                        d,
                        "one.csv",
                        rows(20, |i| {
                            if i == 0 {
                                "a,b,y".into()
                            } else {
                                format!("{i},{},same", i % 3)
                            }
                        }),
                    ),
                    &[],
                )
            },
            expect: Expect::Error(&["only one class", "same"]),
        },
        Case {
            name: "all features constant",
            setup: |d| {
                fit(
                    &write(
                        d,
                        "const.csv",
                        rows(20, |i| {
                            if i == 0 {
                                "a,b,y".into()
                            } else {
                                format!("1,k,{}", i % 2)
                            }
                        }),
                    ),
                    &["--task", "binary"],
                )
            },
            expect: Expect::Error(&["const.csv", "no usable feature"]),
        },
        Case {
            name: "all features missing",
            setup: |d| {
                fit(
                    &write(
                        d,
                        "allmiss.csv",
                        rows(20, |i| {
                            if i == 0 {
                                "a,b,y".into()
                            } else {
                                format!(",,{}", i % 2)
                            }
                        }),
                    ),
                    &["--task", "binary"],
                )
            },
            expect: Expect::Error(&["allmiss.csv", "no usable feature"]),
        },
        Case {
            name: "non-numeric text in a regression target",
            setup: |d| {
                fit(
                    &write(d, "text.csv", "a,y\n1,1.5\n2,2.5\n3,abc\n4,4.5\n"),
                    &["--task", "regression"],
                )
            },
            expect: Expect::Error(&["text.csv", "line 4", "abc"]),
        },
        Case {
            name: "infinite regression target",
            setup: |d| {
                fit(
                    &write(d, "inft.csv", "a,y\n1,1.5\n2,inf\n3,2.5\n4,4.5\n"),
                    &["--task", "regression"],
                )
            },
            expect: Expect::Error(&["inft.csv"]),
        },
        Case {
            name: "unknown metric for the task",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--metric", "rmse"]),
            expect: Expect::Error(&["--metric", "rmse", "roc_auc"]),
        },
        Case {
            name: "metric that does not exist",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--metric", "wellness"]),
            expect: Expect::Error(&["--metric", "wellness"]),
        },
        Case {
            name: "negative budget",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--time-budget", "-3"]),
            expect: Expect::Error(&["--time-budget"]),
        },
        Case {
            name: "zero per-trial time limit",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--trial-time-limit", "0"]),
            expect: Expect::Error(&["--trial-time-limit", "positive"]),
        },
        Case {
            name: "zero jobs",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--jobs", "0"]),
            expect: Expect::Error(&["--jobs"]),
        },
        Case {
            name: "unknown strategy",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--strategy", "magic"]),
            expect: Expect::Error(&["--strategy", "magic"]),
        },
        Case {
            name: "space file: TOML syntax error",
            setup: |d| {
                fit(
                    &write(d, "good.csv", GOOD),
                    &[
                        "--space",
                        &write(d, "syntax.toml", "version = 1\n[families.knn\n"),
                    ],
                )
            },
            expect: Expect::Error(&["syntax.toml"]),
        },
        Case {
            name: "space file: low >= high",
            setup: |d| {
                let s = "version = 1\nname = \"x\"\ndescription = \"\"\n[families.knn.params]\nk = { type = \"int\", low = 9, high = 3, default = 5 }\n";
                fit(
                    &write(d, "good.csv", GOOD),
                    &["--space", &write(d, "range.toml", s)],
                )
            },
            expect: Expect::Error(&["range.toml", "k"]),
        },
        Case {
            name: "space file: unknown type",
            setup: |d| {
                let s = "version = 1\nname = \"x\"\ndescription = \"\"\n[families.knn.params]\nk = { type = \"integer\", low = 1, high = 3, default = 2 }\n";
                fit(
                    &write(d, "good.csv", GOOD),
                    &["--space", &write(d, "type.toml", s)],
                )
            },
            expect: Expect::Error(&["type.toml", "integer"]),
        },
        Case {
            name: "space file: default outside the range",
            setup: |d| {
                let s = "version = 1\nname = \"x\"\ndescription = \"\"\n[families.knn.params]\nk = { type = \"int\", low = 1, high = 3, default = 50 }\n";
                fit(
                    &write(d, "good.csv", GOOD),
                    &["--space", &write(d, "default.toml", s)],
                )
            },
            expect: Expect::Error(&["default.toml", "50"]),
        },
        Case {
            name: "space file: unknown model family",
            setup: |d| {
                let s = "version = 1\nname = \"x\"\ndescription = \"\"\n[families.quantum_forest.params]\nk = { type = \"int\", low = 1, high = 3, default = 2 }\n";
                fit(
                    &write(d, "good.csv", GOOD),
                    &["--space", &write(d, "family.toml", s)],
                )
            },
            expect: Expect::Error(&["quantum_forest"]),
        },
        Case {
            name: "space file missing",
            setup: |d| fit(&write(d, "good.csv", GOOD), &["--space", "nowhere.toml"]),
            expect: Expect::Error(&["nowhere.toml"]),
        },
        Case {
            name: "store directory that is a file",
            setup: |d| {
                write(d, "afile", "not a database");
                let mut v = fit(&write(d, "good.csv", GOOD), &[]);
                v[3] = "afile".into();
                v
            },
            expect: Expect::Error(&["afile"]),
        },
        Case {
            name: "predict with a file that lacks a column",
            setup: |d| {
                let f = write(d, "lacks.csv", "a,c\n1,0.5\n");
                vec![
                    "predict".into(),
                    f,
                    "--store".into(),
                    "db".into(),
                    "--output".into(),
                    "p.csv".into(),
                ]
            },
            expect: Expect::Error(&["lacks.csv", "b"]),
        },
        Case {
            name: "predict input missing",
            setup: |_| {
                vec![
                    "predict".into(),
                    "ghost.csv".into(),
                    "--store".into(),
                    "db".into(),
                    "--output".into(),
                    "p.csv".into(),
                ]
            },
            expect: Expect::Error(&["ghost.csv"]),
        },
        Case {
            name: "predict with an unknown trial",
            setup: |d| {
                let f = write(d, "good.csv", GOOD);
                vec![
                    "predict".into(),
                    f,
                    "--store".into(),
                    "db".into(),
                    "--output".into(),
                    "p.csv".into(),
                    "--trial".into(),
                    "999".into(),
                ]
            },
            expect: Expect::Error(&["999"]),
        },
        Case {
            name: "show an unknown trial",
            setup: |_| vec!["show".into(), "4242".into(), "--store".into(), "db".into()],
            expect: Expect::Error(&["4242"]),
        },
        Case {
            name: "predict with a model file that is garbage",
            setup: |d| {
                let m = write(d, "garbage.bin", "definitely not a model");
                let f = write(d, "good.csv", GOOD);
                vec![
                    "predict".into(),
                    f,
                    "--model".into(),
                    m,
                    "--output".into(),
                    "p.csv".into(),
                ]
            },
            expect: Expect::Error(&["garbage.bin"]),
        },
        // Messy but valid: must work.
        Case {
            name: "UTF-8 BOM",
            setup: |d| fit_ok(&write(d, "bom.csv", format!("\u{feff}{GOOD}")), &[]),
            expect: Expect::Works,
        },
        Case {
            name: "CRLF line ends",
            setup: |d| fit_ok(&write(d, "crlf.csv", GOOD.replace('\n', "\r\n")), &[]),
            expect: Expect::Works,
        },
        Case {
            name: "quoted fields with commas and newlines",
            setup: |d| {
                fit_ok(
                    &write(
                        d,
                        "quoted.csv",
                        "a,b,y\n1,\"x, \"\"big\"\"\",no\n2,\"multi\nline\",yes\n3,x,no\n4,y,yes\n5,x,no\n6,y,yes\n",
                    ),
                    &[],
                )
            },
            expect: Expect::Works,
        },
        Case {
            name: "infinities and 1e308 in features",
            setup: |d| {
                fit_ok(
                    &write(
                        d,
                        "huge.csv",
                        rows(41, |i| {
                            if i == 0 {
                                "a,b,y".into()
                            } else {
                                format!(
                                    "{},{},{}",
                                    if i % 7 == 0 {
                                        "inf".to_string()
                                    } else {
                                        (i as f64 * 1e306).to_string()
                                    },
                                    if i % 5 == 0 { "1e308" } else { "-1e308" },
                                    i % 2
                                )
                            }
                        }),
                    ),
                    &["--task", "binary"],
                )
            },
            expect: Expect::Works,
        },
        Case {
            name: "a class with one row",
            setup: |d| {
                fit_ok(
                    &write(
                        d,
                        "rare.csv",
                        rows(31, |i| {
                            if i == 0 {
                                "a,b,y".into()
                            } else {
                                format!(
                                    "{i},{},{}",
                                    i % 4,
                                    if i == 30 {
                                        "rare"
                                    } else if i % 2 == 0 {
                                        "p"
                                    } else {
                                        "q"
                                    }
                                )
                            }
                        }),
                    ),
                    &[],
                )
            },
            expect: Expect::Works,
        },
        Case {
            name: "a 10 MB single field",
            setup: |d| {
                let big = "z".repeat(10 * 1024 * 1024);
                fit_ok(
                    &write(
                        d,
                        "bigfield.csv",
                        format!("a,b,y\n1,{big},no\n2,s,yes\n3,t,no\n4,s,yes\n5,t,no\n6,s,yes\n"),
                    ),
                    &[],
                )
            },
            expect: Expect::Works,
        },
        Case {
            name: "a 10k-column wide file",
            setup: |d| {
                let header: Vec<String> = (0..10_000)
                    .map(|j| format!("c{j}"))
                    .chain(["y".to_string()])
                    .collect();
                let mut s = header.join(",") + "\n";
                for i in 0..30 {
                    let row: Vec<String> = (0..10_000)
                        .map(|j| ((i * 31 + j * 7) % 97).to_string())
                        .chain([(i % 2).to_string()])
                        .collect();
                    s += &(row.join(",") + "\n");
                }
                fit_ok(&write(d, "wide.csv", s), &["--task", "binary"])
            },
            expect: Expect::Works,
        },
        Case {
            name: "predict with extra and reordered columns",
            setup: |d| {
                let f = write(
                    d,
                    "reordered.csv",
                    "extra,y,c,b,a\nq,no,0.5,x,1\nr,yes,0.2,y,2\n",
                );
                vec![
                    "predict".into(),
                    f,
                    "--store".into(),
                    "db".into(),
                    "--output".into(),
                    "p.csv".into(),
                ]
            },
            expect: Expect::Works,
        },
        Case {
            name: "predict with unseen categories and missing cells",
            setup: |d| {
                let f = write(d, "unseen.csv", "a,b,c\n1,never-seen,0.5\n,,\n");
                vec![
                    "predict".into(),
                    f,
                    "--store".into(),
                    "db".into(),
                    "--output".into(),
                    "p.csv".into(),
                ]
            },
            expect: Expect::Works,
        },
    ]
}

#[test]
fn bad_input_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "good.csv", GOOD);
    run_in(
        dir,
        &[
            "fit",
            "good.csv",
            "--store",
            "db",
            "--max-trials",
            "3",
            "--space",
            "fast",
            "--quiet",
        ],
    )
    .ok();
    let before = leaderboard_json(dir, "db");
    let cases = cases();
    assert!(cases.len() >= 30, "at least 30 cases");
    let mut failures = Vec::new();
    for c in &cases {
        let args = (c.setup)(dir);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run_in(dir, &argv);
        let err = r.stderr();
        if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
            failures.push(format!("{}: panicked: {err}", c.name));
            continue;
        }
        match c.expect {
            Expect::Works => {
                if r.code() != 0 {
                    failures.push(format!(
                        "{}: expected success, got exit {}: {err}",
                        c.name,
                        r.code()
                    ));
                }
            }
            Expect::Error(needles) => {
                if r.code() != 2 {
                    failures.push(format!(
                        "{}: expected exit 2, got {}: {err}",
                        c.name,
                        r.code()
                    ));
                    continue;
                }
                let lower = err.to_lowercase();
                for n in needles {
                    if !lower.contains(&n.to_lowercase()) {
                        failures.push(format!("{}: message lacks `{n}`: {err}", c.name));
                    }
                }
                // Our errors are one line; clap's usage errors add a usage hint below theirs.
                let first = err.trim().lines().next().unwrap_or("");
                if !first.starts_with("error:")
                    || (err.trim().lines().count() != 1 && !err.contains("Usage:"))
                {
                    failures.push(format!("{}: not a one-line error: {err}", c.name));
                }
            }
        }
        if leaderboard_json(dir, "db") != before {
            failures.push(format!("{}: the existing store changed", c.name));
            panic!("{}", failures.join("\n"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn store_of_a_newer_schema_and_corrupted_model_blob() {
    use automl_store::{SledStore, Store, StoreRead};
    let _ = SledStore::open;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "good.csv", GOOD);
    run_in(
        dir,
        &[
            "fit",
            "good.csv",
            "--store",
            "db",
            "--max-trials",
            "2",
            "--space",
            "fast",
            "--quiet",
        ],
    )
    .ok();
    {
        let store = SledStore::open(&dir.join("db")).unwrap();
        let study = store.latest_study().unwrap().unwrap();
        store
            .put_blob(
                study.study_id,
                automl_engine::FINAL_MODEL_BLOB,
                b"\x00\x01garbage",
            )
            .unwrap();
    }
    let r = run_in(
        dir,
        &["predict", "good.csv", "--store", "db", "--output", "p.csv"],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("cannot decode") && !r.stderr().contains("panicked"),
        "{}",
        r.stderr()
    );
    {
        // Simulate a newer automl: rewrite the study record with a future schema version.
        use automl_store::layout;
        let db = sled::open(dir.join("db")).unwrap();
        let studies = db.open_tree(layout::STUDIES_TREE).unwrap();
        let (key, value) = studies.iter().next().unwrap().unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&value).unwrap();
        v["schema_version"] = serde_json::json!(999);
        studies
            .insert(key, serde_json::to_vec(&v).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let r = run_in(dir, &["leaderboard", "--store", "db"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("999") || r.stderr().to_lowercase().contains("newer"),
        "{}",
        r.stderr()
    );
}
