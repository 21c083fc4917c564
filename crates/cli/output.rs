//! Formatting helpers shared by the subcommands: numbers, durations, tables, key parameters.

use automl_core::TrialRecord;
use automl_core::params::ParamsExt;

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
