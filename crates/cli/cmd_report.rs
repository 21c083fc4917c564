//! `automl report`: a study report with the leaderboard, the feature importance of the final
//! model's trial, the data report and plots (score over time, best per family, importance), as
//! markdown (+ SVG files) or one self-contained HTML page.

use crate::args::ReportArgs;
use crate::output::{Doc, fmt_score, fmt_secs, key_params, markdown, print_json};
use crate::store_arg::{open_existing, pick_study};
use anyhow::{Context, Result};
use automl_core::{Metric, StudyRecord, TrialRecord, is_meta_family};
use automl_engine::explain::{ExplainOptions, Explanation, explain};
use automl_engine::leaderboard;
use automl_engine::{PostDecision, post_decision};
use std::collections::BTreeMap;
use std::fmt::Write;

const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// An HTML table of text cells, the first row as the header, appended to `page`.
fn html_table(page: &mut String, rows: &[Vec<String>]) {
    page.push_str("<table>");
    for (i, r) in rows.iter().enumerate() {
        let tag = if i == 0 { "th" } else { "td" };
        page.push_str("<tr>");
        for c in r {
            let _ = write!(page, "<{tag}>{}</{tag}>", esc(c));
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Reliability diagram of the final model's out-of-fold probabilities: observed frequency
/// against mean predicted probability in 10 bins, before and after the post-processing (the
/// latter nested: each fold's rows calibrated by a fit on the other folds), with each bin's
/// row count.
pub fn reliability_plot(d: &PostDecision) -> String {
    let (w, h, m) = (460.0, 380.0, 50.0);
    let side = h - 2.0 * m;
    let (x0, y0) = (m, h - m);
    let px = |v: f64| x0 + v.clamp(0.0, 1.0) * side;
    let py = |v: f64| y0 - v.clamp(0.0, 1.0) * side;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>"#
    );
    let _ = write!(
        svg,
        r##"<rect x="{x0}" y="{m}" width="{side}" height="{side}" fill="none" stroke="#999"/><line x1="{x0}" y1="{y0}" x2="{}" y2="{m}" stroke="#bbb" stroke-dasharray="4 3"/><text x="{}" y="{}" text-anchor="middle">mean predicted probability</text><text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">observed frequency</text>"##,
        x0 + side,
        x0 + side / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0
    );
    for i in 0..=10 {
        let v = f64::from(i) / 10.0;
        if i % 2 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{v:.1}</text><text x="{}" y="{:.1}" text-anchor="end">{v:.1}</text>"#,
                px(v),
                y0 + 14.0,
                x0 - 4.0,
                py(v) + 4.0
            );
        }
    }
    let series = [
        (&d.reliability_before, PALETTE[1], "as the model gives"),
        (&d.reliability_after, PALETTE[0], "post-processed (nested)"),
    ];
    for (k, (bins, color, label)) in series.iter().enumerate() {
        let pts: Vec<String> = bins
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| format!("{:.1},{:.1}", px(b.predicted), py(b.observed)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            pts.join(" ")
        );
        for b in bins.iter().filter(|b| b.count > 0) {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} rows: predicted {:.3}, observed {:.3}</title></circle>"#,
                px(b.predicted),
                py(b.observed),
                b.count,
                b.predicted,
                b.observed
            );
        }
        let ly = m - 30.0 + 14.0 * k as f64;
        let _ = write!(
            svg,
            r#"<rect x="{x0}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}">{label}</text>"#,
            ly - 9.0,
            x0 + 14.0,
            ly
        );
    }
    // Row counts per bin along the top of the frame (the bins of the model as it is).
    for (i, b) in d.reliability_before.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#666" font-size="9">{}</text>"##,
            px((i as f64 + 0.5) / 10.0),
            m + 11.0,
            b.count
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The post-processing section: the decision in a line and every option's nested scores.
fn post_rows(d: &PostDecision) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "calibration".to_string(),
        "threshold".into(),
        format!("nested {}", d.metric),
        "nested log loss".into(),
    ]];
    for o in &d.options {
        rows.push(vec![
            o.method.name().to_string(),
            if o.tuned_threshold {
                "tuned".into()
            } else {
                "-".into()
            },
            fmt_score(o.nested),
            fmt_score(o.nested_log_loss),
        ]);
    }
    rows
}

fn post_caption(d: &PostDecision) -> String {
    format!(
        "Chosen: {}. The CV score before post-processing is {} and after it {} (nested: each fold scored with a calibrator and threshold fitted on the other folds' out-of-fold predictions). Reliability: 10 bins of {}; numbers along the top are the rows per bin.",
        d.reason,
        fmt_score(d.before),
        fmt_score(d.after),
        if d.reliability_before.is_empty() {
            "probabilities"
        } else {
            "P(positive class) (binary) or the top-class confidence (multiclass)"
        }
    )
}

/// Every complete trial's score against seconds since the study started, plus the best so far.
pub fn score_plot(trials: &[TrialRecord], start_ms: u64, metric: Metric) -> String {
    let pts: Vec<(f64, f64, &str)> = trials
        .iter()
        .filter(|t| t.is_ranked() && !is_meta_family(&t.candidate.family))
        .map(|t| {
            (
                (t.ended_at_ms.saturating_sub(start_ms)) as f64 / 1000.0,
                t.mean,
                t.candidate.family.as_str(),
            )
        })
        .collect();
    let (w, h, l, r, top, bot) = (720.0, 360.0, 70.0, 150.0, 20.0, 40.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    svg.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    if pts.is_empty() {
        svg.push_str(r#"<text x="20" y="40">no completed trials</text></svg>"#);
        return svg;
    }
    let xmax = pts.iter().map(|p| p.0).fold(0.0f64, f64::max).max(1e-3);
    let (mut ymin, mut ymax) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    // Clip extreme outliers (e.g. a diverged model) so the plot stays readable.
    let mut sorted: Vec<f64> = pts.iter().map(|p| p.1).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f) as usize];
    let spread = (q(0.9) - q(0.1)).abs().max(1e-12);
    ymin = ymin.max(q(0.1) - 3.0 * spread);
    ymax = ymax.min(q(0.9) + 3.0 * spread);
    if ymax - ymin < 1e-12 {
        ymax += 0.5;
        ymin -= 0.5;
    }
    let px = |x: f64| l + (w - l - r) * x / xmax;
    let py = |y: f64| top + (h - top - bot) * (1.0 - (y.clamp(ymin, ymax) - ymin) / (ymax - ymin));
    let _ = write!(
        svg,
        r##"<line x1="{l}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        h - bot,
        w - r,
        h - bot
    );
    let _ = write!(
        svg,
        r##"<line x1="{l}" y1="{top}" x2="{l}" y2="{}" stroke="#333"/>"##,
        h - bot
    );
    for i in 0..=4 {
        let y = ymin + (ymax - ymin) * i as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##,
            l - 5.0,
            py(y) + 4.0,
            fmt_score(y)
        );
        let x = xmax * i as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle">{}</text>"##,
            px(x),
            h - bot + 15.0,
            fmt_secs(x)
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="middle">time since start</text>"##,
        (l + w - r) / 2.0,
        h - 5.0
    );
    let _ = write!(
        svg,
        r##"<text x="12" y="{}" transform="rotate(-90 12 {})" text-anchor="middle">{}</text>"##,
        h / 2.0,
        h / 2.0,
        metric
    );
    let mut families: Vec<&str> = pts.iter().map(|p| p.2).collect();
    families.sort();
    families.dedup();
    let color =
        |f: &str| PALETTE[families.iter().position(|x| *x == f).unwrap_or(0) % PALETTE.len()];
    for p in &pts {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}" fill-opacity="0.75"><title>{} {}</title></circle>"#,
            px(p.0),
            py(p.1),
            color(p.2),
            p.2,
            fmt_score(p.1)
        );
    }
    let mut order: Vec<&(f64, f64, &str)> = pts.iter().collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut best = f64::NAN;
    let mut path = String::new();
    for p in order {
        if best.is_nan() || metric.better(p.1, best) {
            let _ = write!(
                path,
                "{}{:.1},{:.1} ",
                if path.is_empty() { "M" } else { "L" },
                px(p.0),
                if best.is_nan() { py(p.1) } else { py(best) }
            );
            best = p.1;
            let _ = write!(path, "L{:.1},{:.1} ", px(p.0), py(best));
        }
    }
    let _ = write!(path, "L{:.1},{:.1}", px(xmax), py(best));
    let _ = write!(
        svg,
        r##"<path d="{path}" fill="none" stroke="#222" stroke-width="1.5"/>"##
    );
    for (i, f) in families.iter().enumerate() {
        let y = top + 14.0 * i as f64 + 5.0;
        let _ = write!(
            svg,
            r#"<circle cx="{}" cy="{y}" r="4" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            w - r + 15.0,
            color(f),
            w - r + 24.0,
            y + 4.0,
            esc(f)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}">— best so far</text>"#,
        w - r + 10.0,
        top + 14.0 * families.len() as f64 + 12.0
    );
    svg.push_str("</svg>");
    svg
}

/// Best score per family as horizontal bars.
pub fn family_plot(trials: &[TrialRecord], metric: Metric) -> String {
    let mut best: BTreeMap<&str, f64> = BTreeMap::new();
    for t in trials.iter().filter(|t| t.is_ranked()) {
        let e = best.entry(t.candidate.family.as_str()).or_insert(t.mean);
        if metric.better(t.mean, *e) {
            *e = t.mean;
        }
    }
    let mut items: Vec<(&str, f64)> = best.into_iter().collect();
    items.sort_by(|a, b| metric.as_loss(a.1).total_cmp(&metric.as_loss(b.1)));
    let (w, row) = (720.0, 22.0);
    let h = 30.0 + row * items.len() as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>"#
    );
    if items.is_empty() {
        svg.push_str("</svg>");
        return svg;
    }
    let vals: Vec<f64> = items.iter().map(|i| i.1).collect();
    let lo = vals.iter().cloned().fold(f64::MAX, f64::min);
    let hi = vals.iter().cloned().fold(f64::MIN, f64::max);
    let span = (hi - lo).max(1e-12);
    for (i, (f, v)) in items.iter().enumerate() {
        // Bar length: 100 % for the best, 15 % for the worst.
        let good = if metric.higher_is_better() {
            (v - lo) / span
        } else {
            (hi - v) / span
        };
        let len = (w - 260.0) * (0.15 + 0.85 * good);
        let y = 15.0 + row * i as f64;
        let _ = write!(
            svg,
            r##"<text x="120" y="{}" text-anchor="end">{}</text><rect x="130" y="{y}" width="{len:.1}" height="{}" fill="{}"/><text x="{}" y="{}">{}</text>"##,
            y + 14.0,
            esc(f),
            row - 6.0,
            PALETTE[i % PALETTE.len()],
            135.0 + len,
            y + 14.0,
            fmt_score(*v)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// What ensemble selection decided, as one line: used or not, why, and (typed records) the
/// two cross-validated scores it was judged by and its members.
fn ensemble_line(study: &StudyRecord) -> Option<String> {
    let Some(d) = &study.ensemble else {
        return study.ensemble_text();
    };
    let mut line = format!(
        "{}{}: {}; cross-validated selection {}, picking one trial the same way {}, best single trial's own score {}",
        if d.used { "used" } else { "not used" },
        d.trial_id
            .map(|t| format!(" (trial {t})"))
            .unwrap_or_default(),
        d.reason,
        fmt_score(d.cv_score.unwrap_or(f64::NAN)),
        fmt_score(d.single_selection_cv.unwrap_or(f64::NAN)),
        fmt_score(d.best_single_cv.unwrap_or(f64::NAN)),
    );
    if !d.members.is_empty() {
        let members: Vec<String> = d
            .members
            .iter()
            .map(|(id, w)| format!("trial {id} × {w:.3}"))
            .collect();
        let _ = write!(line, "; members {}", members.join(", "));
    }
    Some(line)
}

/// Held-out rows per fold, shuffles and seconds the report spends on feature importance.
const REPORT_ROWS_PER_FOLD: usize = 500;
const REPORT_REPEATS: usize = 3;
const REPORT_SECONDS: u64 = 20;

/// Permutation importance of the final model's trial, bounded in rows and time; Err = why
/// there is none.
fn importance(
    store: &dyn automl_store::StoreRead,
    study: &StudyRecord,
    data: Option<&std::path::Path>,
) -> std::result::Result<Explanation, String> {
    let Some(trial) = study.final_trial else {
        return Err("the study has no final model yet".into());
    };
    let opts = ExplainOptions {
        repeats: REPORT_REPEATS,
        seed: 0,
        max_rows_per_fold: Some(REPORT_ROWS_PER_FOLD),
        data: data.map(|p| p.to_path_buf()),
        time_limit: Some(std::time::Duration::from_secs(REPORT_SECONDS)),
    };
    explain(store, Some(study.study_id), Some(trial), &opts).map_err(|e| match e {
        automl_engine::explain::ExplainError::DataMissing { path, .. } => format!(
            "not computed: the training data is not at `{}` (pass it with --data FILE)",
            path.display()
        ),
        e => format!("not computed: {e}"),
    })
}

/// The importance rows (first row = header).
fn importance_rows(e: &Explanation) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "column".to_string(),
        "importance".into(),
        "std".into(),
        "gain".into(),
    ]];
    for c in &e.columns {
        rows.push(vec![
            c.column.clone(),
            format!("{:.6}", c.importance),
            format!("{:.6}", c.std),
            c.gain
                .map(|g| format!("{g:.4}"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    rows
}

fn importance_caption(e: &Explanation) -> String {
    format!(
        "Permutation importance of trial {} ({}): the increase of {} (as a loss) when one column \
         is shuffled in the held-out rows of each fold ({} rows, {} folds x {} shuffles; at \
         most {REPORT_ROWS_PER_FOLD} rows per fold). Correlated columns share importance. \
         `automl explain` measures on every row.",
        e.trial_id, e.family, e.metric, e.rows, e.folds, e.repeats
    )
}

/// Horizontal bars of the top 20 importances (negative ones drawn as zero).
pub fn importance_plot(e: &Explanation) -> String {
    let top: Vec<_> = e.columns.iter().take(20).collect();
    let max = top
        .iter()
        .map(|c| c.importance)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let (left, width, bar_h) = (160.0, 420.0, 18.0);
    let h = top.len() as f64 * (bar_h + 4.0) + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"680\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    for (i, c) in top.iter().enumerate() {
        let y = 5.0 + i as f64 * (bar_h + 4.0);
        let w = (c.importance.max(0.0) / max * width).max(0.0);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{}\"><title>{} ± {}</title></rect><text x=\"{}\" y=\"{}\">{}</text>",
            left - 6.0,
            y + 13.0,
            esc(&c.column),
            PALETTE[0],
            fmt_score(c.importance),
            fmt_score(c.std),
            left + w + 4.0,
            y + 13.0,
            fmt_score(c.importance)
        );
    }
    svg.push_str("</svg>");
    svg
}

pub fn run(a: ReportArgs) -> Result<()> {
    let store = open_existing(&a.store.store)?;
    let study = pick_study(store.as_ref(), a.study, &a.store.store)?;
    let metric = Metric::from_name(&study.metric).context("unknown metric in the study")?;
    let trials = store.trials(study.study_id)?;
    let board = leaderboard(&trials, metric);
    let mut rows = vec![vec![
        "rank".to_string(),
        "trial".into(),
        "family".into(),
        format!("{} mean ± std", study.metric),
        "fit".into(),
        "state".into(),
        "params".into(),
    ]];
    for r in board.iter().take(30) {
        let t = &r.trial;
        rows.push(vec![
            r.rank.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
            t.trial_id.to_string(),
            t.candidate.family.clone(),
            if t.is_scored() {
                format!("{} ± {}", fmt_score(t.mean), fmt_score(t.std))
            } else {
                "-".into()
            },
            fmt_secs(t.fit_time_s),
            t.state.as_str().into(),
            key_params(t, 5),
        ]);
    }
    let complete = trials.iter().filter(|t| t.is_scored()).count();
    let mut md = String::new();
    let _ = writeln!(md, "# automl study {} `{}`\n", study.study_id, study.name);
    let _ = writeln!(
        md,
        "- data: `{}` ({}target `{}`, {} task, fingerprint {})",
        study.data_path,
        study
            .rows()
            .map(|n| format!("{n} rows, "))
            .unwrap_or_default(),
        study.target,
        study.task,
        study.fingerprint
    );
    let _ = writeln!(
        md,
        "- metric: {} ({}), validation: {}",
        study.metric,
        if metric.higher_is_better() {
            "higher is better"
        } else {
            "lower is better"
        },
        study.validation_text().unwrap_or_else(|| "?".into())
    );
    let _ = writeln!(
        md,
        "- trials: {} ({} complete), strategy {}, seed {}",
        trials.len(),
        complete,
        study.strategy,
        study.seed
    );
    let _ = writeln!(
        md,
        "- final model: {}",
        study.final_model_text().unwrap_or_else(|| "none".into())
    );
    if let Some(e) = ensemble_line(&study) {
        let _ = writeln!(md, "- ensemble: {e}");
    }
    if let Some(d) = &study.stacking {
        let _ = writeln!(
            md,
            "- stacking: {}{}{}",
            d.trial_id
                .map(|t| format!("trial {t}, "))
                .unwrap_or_default(),
            d.reason,
            if d.members.is_empty() {
                String::new()
            } else {
                format!(
                    "; members {}; second layer {}",
                    d.members
                        .iter()
                        .map(|m| format!("trial {m}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    d.meta_learner
                )
            }
        );
    }
    if let Some(t) = study
        .final_trial
        .and_then(|id| trials.iter().find(|t| t.trial_id == id))
        .filter(|t| t.is_scored())
    {
        let repeats = study.validation.as_ref().map_or(1, |v| v.repeats());
        let iv = automl_engine::evaluate::cv_interval(t, repeats);
        let _ = writeln!(
            md,
            "- estimate: {} {} ± {} over {} folds (trial {}); 95 % interval of the CV mean [{}, {}] (mean ± 1.96 · std / √folds{}; `automl evaluate` compares new labelled rows with it)",
            study.metric,
            fmt_score(t.mean),
            fmt_score(t.std),
            t.fold_scores.len(),
            t.trial_id,
            fmt_score(iv[0]),
            fmt_score(iv[1]),
            if repeats > 1 {
                format!(" of one of the {repeats} fold sets")
            } else {
                String::new()
            }
        );
    }
    let post = post_decision(&study);
    if let Some(d) = &post {
        let _ = writeln!(
            md,
            "- post-processing: {} (CV before {}, after {}, nested)",
            automl_engine::study::postprocess::describe(d),
            fmt_score(d.before),
            fmt_score(d.after)
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "## Leaderboard (top 30)\n\n{}", markdown(&rows));
    let imp = importance(store.as_ref(), &study, a.data.as_deref());
    let score_svg = score_plot(&trials, study.started_at_ms, metric);
    let family_svg = family_plot(&trials, metric);
    let html = a
        .output
        .extension()
        .is_some_and(|e| e == "html" || e == "htm");
    // The SVG files written beside a markdown report (an HTML page has them inline).
    let mut plots = Vec::new();
    if html {
        let mut page = String::from(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>automl report</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}pre{background:#f6f6f6;padding:8px;overflow:auto}</style></head><body>",
        );
        let _ = write!(
            page,
            "<h1>automl study {} <code>{}</code></h1><ul>",
            study.study_id,
            esc(&study.name)
        );
        for line in md.lines().filter(|l| l.starts_with("- ")) {
            let _ = write!(page, "<li>{}</li>", esc(&line[2..]));
        }
        page.push_str("</ul><h2>Score over time</h2>");
        page.push_str(&score_svg);
        page.push_str("<h2>Best score per family</h2>");
        page.push_str(&family_svg);
        page.push_str("<h2>Leaderboard (top 30)</h2>");
        html_table(&mut page, &rows);
        if let Some(d) = &post {
            let _ = write!(
                page,
                "<h2>Calibration and threshold</h2><p>{}</p>",
                esc(&post_caption(d))
            );
            page.push_str(&reliability_plot(d));
            html_table(&mut page, &post_rows(d));
        }
        page.push_str("<h2>Feature importance</h2>");
        match &imp {
            Ok(e) => {
                let _ = write!(page, "<p>{}</p>", esc(&importance_caption(e)));
                page.push_str(&importance_plot(e));
                html_table(&mut page, &importance_rows(e));
            }
            Err(why) => {
                let _ = write!(page, "<p>{}</p>", esc(why));
            }
        }
        if let Some(rep) = study.report_text() {
            let _ = write!(page, "<h2>Data report</h2><pre>{}</pre>", esc(&rep));
        }
        page.push_str("</body></html>\n");
        std::fs::write(&a.output, page)
            .with_context(|| format!("cannot write `{}`", a.output.display()))?;
    } else {
        let stem = a
            .output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into());
        let dir = a
            .output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| ".".into());
        let score_file = format!("{stem}-scores.svg");
        let family_file = format!("{stem}-families.svg");
        std::fs::write(dir.join(&score_file), &score_svg)
            .with_context(|| format!("cannot write `{score_file}`"))?;
        std::fs::write(dir.join(&family_file), &family_svg)
            .with_context(|| format!("cannot write `{family_file}`"))?;
        plots = vec![dir.join(&score_file), dir.join(&family_file)];
        let _ = writeln!(
            md,
            "## Score over time\n\n![score over time]({score_file})\n\n## Best score per family\n\n![best per family]({family_file})\n"
        );
        if let Some(d) = &post {
            let rel_file = format!("{stem}-reliability.svg");
            std::fs::write(dir.join(&rel_file), reliability_plot(d))
                .with_context(|| format!("cannot write `{rel_file}`"))?;
            let _ = writeln!(
                md,
                "## Calibration and threshold\n\n{}\n\n![reliability diagram]({rel_file})\n\n{}",
                post_caption(d),
                markdown(&post_rows(d))
            );
        }
        match &imp {
            Ok(e) => {
                let _ = writeln!(
                    md,
                    "## Feature importance\n\n{}\n\n{}",
                    importance_caption(e),
                    markdown(&importance_rows(e))
                );
            }
            Err(why) => {
                let _ = writeln!(md, "## Feature importance\n\n{why}\n");
            }
        }
        if let Some(rep) = study.report_text() {
            let _ = writeln!(md, "## Data report\n\n```\n{rep}\n```");
        }
        std::fs::write(&a.output, md)
            .with_context(|| format!("cannot write `{}`", a.output.display()))?;
    }
    if a.format.json() {
        let path = |p: &std::path::Path| p.display().to_string();
        return print_json(
            Doc::Report,
            serde_json::json!({
                "study_id": study.study_id,
                "output": path(&a.output),
                "format": if html { "html" } else { "markdown" },
                "plots": plots.iter().map(|p| path(p)).collect::<Vec<_>>(),
                "importance": imp.is_ok(),
            }),
        );
    }
    println!("wrote {}", a.output.display());
    Ok(())
}
