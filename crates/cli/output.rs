//! Formatting helpers shared by the subcommands: numbers, durations, tables, key parameters,
//! and the one way a command prints its result as JSON (`--format json`, a schema-tagged
//! document whose shapes docs/json.md lists).

use anyhow::{Result, bail};
use automl_core::TrialRecord;
use automl_core::params::ParamsExt;
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::io::Write;

/// `--format` of the commands that print a result and have no other text format.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Text for people.
    Table,
    /// One JSON document on stdout, tagged with its schema (docs/json.md); warnings and
    /// progress go to stderr.
    Json,
}

/// `--format table|json`, flattened into the commands that print a result.
#[derive(Args, Debug, Clone, Copy)]
pub struct FormatArg {
    /// Output format: `table` for people, `json` for programs (one document on stdout, its
    /// shape and version in docs/json.md).
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

impl FormatArg {
    /// Whether the result is printed as JSON.
    pub fn json(self) -> bool {
        self.format == OutputFormat::Json
    }
}

/// The key that names a JSON document's shape and version: `"schema": "automl.fit/1"`.
pub const SCHEMA_KEY: &str = "schema";

/// The JSON documents the CLI prints, one shape each (docs/json.md). The version bumps when
/// a field is removed, renamed or changes type; an added field keeps the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    /// `automl fit`: the end-of-search summary.
    Fit,
    /// `automl leaderboard`: an array of rows, each tagged.
    Leaderboard,
    /// `automl studies`.
    Studies,
    /// `automl show`: the trial record.
    Show,
    /// `automl compare`.
    Compare,
    /// `automl predict`: what was predicted and where it went.
    Predict,
    /// `automl export`.
    Export,
    /// `automl report`: what was written.
    Report,
    /// `automl portfolio`.
    Portfolio,
    /// `automl evaluate`.
    Evaluate,
    /// `automl explain`: column importance.
    Explain,
    /// `automl explain --rows`: per-row contributions.
    ExplainRows,
    /// `automl drift`.
    Drift,
    /// `automl serve-report`.
    ServeReport,
}

impl Doc {
    /// The document's name and the version of its shape.
    fn name_version(self) -> (&'static str, u32) {
        match self {
            Doc::Fit => ("fit", 1),
            Doc::Leaderboard => ("leaderboard", 1),
            Doc::Studies => ("studies", 1),
            Doc::Show => ("show", 1),
            Doc::Compare => ("compare", 1),
            Doc::Predict => ("predict", 1),
            Doc::Export => ("export", 1),
            Doc::Report => ("report", 1),
            Doc::Portfolio => ("portfolio", 1),
            Doc::Evaluate => ("evaluate", 1),
            Doc::Explain => ("explain", 1),
            Doc::ExplainRows => ("explain-rows", 1),
            Doc::Drift => ("drift", 1),
            Doc::ServeReport => ("serve-report", 1),
        }
    }

    /// The schema tag, `automl.<name>/<version>`.
    pub fn tag(self) -> String {
        let (name, version) = self.name_version();
        format!("automl.{name}/{version}")
    }
}

/// `v` with its schema tag: an object gains [`SCHEMA_KEY`]; an array (the leaderboard, kept an
/// array for the programs that read it) keeps its type and each of its object rows gains the
/// key. (A `Value`, not `impl Serialize`: the binary names no serde trait; callers pass
/// `serde_json::to_value(&x)?` or a `json!` object.)
pub fn tagged(doc: Doc, mut v: Value) -> Result<Value> {
    let tag = Value::String(doc.tag());
    let tag_object = |o: &mut serde_json::Map<String, Value>| {
        if o.insert(SCHEMA_KEY.to_string(), tag.clone()).is_some() {
            bail!(
                "the {} document already has a `{SCHEMA_KEY}` field",
                doc.tag()
            );
        }
        Ok(())
    };
    match &mut v {
        Value::Object(o) => tag_object(o)?,
        Value::Array(rows) => {
            for row in rows {
                if let Value::Object(o) = row {
                    tag_object(o)?;
                }
            }
        }
        _ => bail!(
            "the {} document is neither an object nor an array",
            doc.tag()
        ),
    }
    Ok(v)
}

/// Print `value` with its schema tag as one pretty JSON document on stdout.
pub fn print_json(doc: Doc, value: Value) -> Result<()> {
    let v = tagged(doc, value)?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &v)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A float as JSON: `null` when it is not finite (NaN score of a failed trial).
pub fn num(x: f64) -> Value {
    if x.is_finite() {
        Value::from(x)
    } else {
        Value::Null
    }
}

/// A score with 4 significant decimals (or scientific for tiny/huge values).
pub fn fmt_score(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// Seconds as `12.3s` / `4m05s`.
pub fn fmt_secs(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

/// Bytes as `12.3 KB`.
pub fn fmt_bytes(b: u64) -> String {
    if b < 1024 {
        format!("{b} B")
    } else if b < 1024 * 1024 {
        format!("{:.1} KB", b as f64 / 1024.0)
    } else {
        format!("{:.1} MB", b as f64 / 1024.0 / 1024.0)
    }
}

/// Per-row time as `12.3µs`.
pub fn fmt_row_time(s: f64) -> String {
    if s <= 0.0 || !s.is_finite() {
        "-".into()
    } else if s < 1e-3 {
        format!("{:.1}µs", s * 1e6)
    } else {
        format!("{:.2}ms", s * 1e3)
    }
}

/// The first `n` parameters as `k=v, ...`.
/// `"s"` unless `n` is 1 ("1 fold", "2 folds").
pub fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub fn key_params(t: &TrialRecord, n: usize) -> String {
    let all = t.candidate.params.render();
    let parts: Vec<&str> = all.split(", ").filter(|s| !s.is_empty()).collect();
    if parts.len() > n {
        format!("{}, …", parts[..n].join(", "))
    } else {
        parts.join(", ")
    }
}

/// A trial's parent trial ids separated by spaces, or `none` when it has no parents.
pub fn fmt_parents(t: &TrialRecord, none: &str) -> String {
    if t.candidate.parents.is_empty() {
        return none.to_string();
    }
    let ids: Vec<String> = t.candidate.parents.iter().map(|p| p.to_string()).collect();
    ids.join(" ")
}

/// Render rows as an aligned text table (first row = header). Numeric-looking cells are
/// right-aligned.
pub fn table(rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let ncol = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut width = vec![0usize; ncol];
    for r in rows {
        for (j, c) in r.iter().enumerate() {
            width[j] = width[j].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (j, c) in r.iter().enumerate() {
            let pad = width[j] - c.chars().count();
            let numeric = i > 0
                && c.chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_digit() || ch == '-' || ch == '.');
            if j > 0 {
                line.push_str("  ");
            }
            if numeric && j + 1 < r.len() {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                if j + 1 < r.len() {
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Render rows as a GitHub markdown table (first row = header).
pub fn markdown(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        out.push_str("| ");
        out.push_str(
            &r.iter()
                .map(|c| c.replace('|', "\\|"))
                .collect::<Vec<_>>()
                .join(" | "),
        );
        out.push_str(" |\n");
        if i == 0 {
            out.push('|');
            out.push_str(&"---|".repeat(r.len()));
            out.push('\n');
        }
    }
    out
}
