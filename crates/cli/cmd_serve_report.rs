//! `automl serve-report`: what the prediction log says about the served (and predicted)
//! models: per-model requests, errors and latency, shadow agreement, canary share, the latest
//! drift check and the recent events.

use crate::log_arg::LogDirArgs;
use crate::output::{Doc, FormatArg, print_json, table};
use anyhow::{Context, Result, bail};
use automl_monitor::predlog::{LogFilter, ServeReport, read_log, serve_report};
use clap::Args;

/// Arguments of `automl serve-report`.
#[derive(Args, Debug)]
pub struct ServeReportArgs {
    /// The store whose log to read (its log is STORE/predictions for a directory).
    #[command(flatten)]
    pub store: crate::args::StoreArgs,
    #[command(flatten)]
    pub log: LogDirArgs,
    /// Only the last DURATION of the log: a number with s, m, h or d (`90s`, `30m`, `1h`, `7d`;
    /// a bare number is seconds) [default: the whole log].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub since: Option<u64>,
    /// Only this model (`study-1`, `trial-7`, a model file's name, as the log names it).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    #[command(flatten)]
    pub format: FormatArg,
}

/// Parse `90s` / `30m` / `1h` / `7d` / `45` (seconds) into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 90s, 30m, 1h or 7d"))?;
    let per = match unit {
        "ms" => 1.0,
        "s" => 1e3,
        "m" | "min" => 60e3,
        "h" => 3600e3,
        "d" => 86_400e3,
        _ => return Err(format!("`{s}`: unknown unit `{unit}`; use s, m, h or d")),
    };
    if !n.is_finite() || n < 0.0 {
        return Err(format!("`{s}`: a duration is a positive number"));
    }
    Ok((n * per) as u64)
}

pub fn run(a: ServeReportArgs) -> Result<()> {
    let dir = a.log.resolve(Some(&a.store.store));
    if !dir.exists() {
        bail!(
            "no prediction log at `{}`; `automl predict` and `automl serve` write one (pass --log-dir DIR or --store DIR|URL)",
            dir.display()
        );
    }
    let filter = LogFilter {
        since_ms: a
            .since
            .map(|d| automl_monitor::predlog::now_ms().saturating_sub(d)),
        model: a.model.clone(),
    };
    let records =
        read_log(&dir, &filter).with_context(|| format!("reading `{}`", dir.display()))?;
    let report = serve_report(&records);
    if a.format.json() {
        let mut v = serde_json::to_value(&report)?;
        v["log_dir"] = serde_json::Value::String(dir.display().to_string());
        v["records"] = records.len().into();
        print_json(Doc::ServeReport, v)?;
    } else {
        print!(
            "{}",
            render(&report, &dir.display().to_string(), records.len())
        );
    }
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// The report as text.
fn render(r: &ServeReport, dir: &str, n: usize) -> String {
    use crate::cmd_show::fmt_time;
    let mut out = String::new();
    match (r.from_ms, r.to_ms) {
        (Some(a), Some(b)) => out.push_str(&format!(
            "prediction log `{dir}`: {n} records, {} .. {}\n",
            fmt_time(a),
            fmt_time(b)
        )),
        _ => {
            out.push_str(&format!("prediction log `{dir}`: no records\n"));
            return out;
        }
    }
    if !r.models.is_empty() {
        let mut rows = vec![
            [
                "model",
                "role",
                "requests",
                "rows",
                "errors",
                "error rate",
                "p50 ms",
                "p99 ms",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for m in &r.models {
            let roles: Vec<String> = m
                .roles
                .iter()
                .map(|(k, v)| {
                    if m.roles.len() == 1 {
                        k.clone()
                    } else {
                        format!("{k}:{v}")
                    }
                })
                .collect();
            rows.push(vec![
                m.model.clone(),
                roles.join(" "),
                m.requests.to_string(),
                m.rows.to_string(),
                m.errors.to_string(),
                pct(m.error_rate),
                format!("{:.2}", m.latency_ms_p50),
                format!("{:.2}", m.latency_ms_p99),
            ]);
        }
        out.push('\n');
        out.push_str(&table(&rows));
    }
    if !r.shadows.is_empty() {
        out.push_str("\nshadow agreement (rows with the same output as the answer sent):\n");
        for s in &r.shadows {
            let rate = s.agreement.map(pct).unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "  {} vs {}: {rate} of {} rows in {} requests{}\n",
                s.model,
                if s.against.is_empty() {
                    "-".to_string()
                } else {
                    s.against.join(", ")
                },
                s.rows,
                s.requests,
                if s.unmatched > 0 {
                    format!(
                        " ({} not compared: no answer logged, or an error)",
                        s.unmatched
                    )
                } else {
                    String::new()
                }
            ));
        }
    }
    if !r.canaries.is_empty() {
        out.push_str("\ncanary share of the answered requests:\n");
        for c in &r.canaries {
            out.push_str(&format!(
                "  {}: {} ({} requests)\n",
                c.model,
                pct(c.share),
                c.requests
            ));
        }
    }
    if !r.drift.is_empty() {
        out.push_str("\nlatest drift check:\n");
        for d in &r.drift {
            let flag = d.drift.map(|b| b.to_string()).unwrap_or_else(|| "?".into());
            let cols = if d.flagged.is_empty() {
                "no column flagged".to_string()
            } else {
                format!("flagged: {}", d.flagged.join(", "))
            };
            out.push_str(&format!(
                "  {}: drift: {flag}, {cols} ({}, by {})\n",
                d.model,
                fmt_time(d.ts_ms),
                d.source
            ));
        }
    }
    if !r.events.is_empty() {
        const RECENT: usize = 10;
        out.push_str(&format!(
            "\nevents{}:\n",
            if r.events.len() > RECENT {
                " (the last 10)"
            } else {
                ""
            }
        ));
        for e in r.events.iter().skip(r.events.len().saturating_sub(RECENT)) {
            out.push_str(&format!(
                "  {}  {}  {}  {}\n",
                fmt_time(e.ts_ms),
                e.event,
                e.model,
                e.detail
            ));
        }
    }
    out
}
