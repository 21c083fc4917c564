//! Counters and latency histograms per model and role, rendered in the Prometheus text format.
//! Every counter is an atomic, found once when a model is loaded, so a request never takes a
//! lock to count itself.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, seconds.
pub const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The counters of one model in one role.
#[derive(Default)]
pub struct ModelStats {
    /// Batches scored.
    pub requests: AtomicU64,
    /// Batches that failed.
    pub errors: AtomicU64,
    /// Rows scored.
    pub rows: AtomicU64,
    /// Rows compared with the primary's answer (shadow only).
    pub compared: AtomicU64,
    /// Rows whose answer equalled the primary's (shadow only).
    pub agreed: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_us: AtomicU64,
}

impl ModelStats {
    /// Count one batch of `rows` that took `took` (an error when `ok` is false).
    pub fn observe(&self, rows: usize, took: Duration, ok: bool) {
        self.requests.fetch_add(1, Relaxed);
        if ok {
            self.rows.fetch_add(rows as u64, Relaxed);
        } else {
            self.errors.fetch_add(1, Relaxed);
        }
        let s = took.as_secs_f64();
        if let Some(b) = BUCKETS.iter().position(|&b| s <= b) {
            self.buckets[b].fetch_add(1, Relaxed);
        }
        self.sum_us.fetch_add(took.as_micros() as u64, Relaxed);
    }
}

/// The registry of every model's counters, plus the server-wide ones.
#[derive(Default)]
pub struct Metrics {
    models: Mutex<Vec<(String, &'static str, Arc<ModelStats>)>>,
    /// HTTP responses by status code.
    responses: Mutex<Vec<(u16, u64)>>,
    /// Shadow (and canary comparison) jobs dropped because their queue was full.
    pub shadow_dropped: AtomicU64,
    /// Log records dropped because the writer's queue was full.
    pub log_dropped: AtomicU64,
    /// Canary promotions.
    pub canary_promotions: AtomicU64,
    /// Canary rollbacks (by hand or automatic).
    pub canary_rollbacks: AtomicU64,
    /// Drift checks of the recent traffic.
    pub drift_checks: AtomicU64,
    /// The drift check of the newest window: (its snapshot's number, model, drift found,
    /// rows checked).
    drift_last: Mutex<Option<(u64, String, bool, usize)>>,
}

impl Metrics {
    /// The counters of `model` in `role` (created on first use).
    pub fn stats(&self, model: &str, role: &'static str) -> Arc<ModelStats> {
        let mut m = self.models.lock().unwrap();
        if let Some((_, _, s)) = m.iter().find(|(n, r, _)| n == model && *r == role) {
            return s.clone();
        }
        let s = Arc::new(ModelStats::default());
        m.push((model.to_string(), role, s.clone()));
        s
    }

    /// Record a drift check of the recent traffic, of the window snapshot numbered `seq`.
    /// Checks run concurrently (`GET /drift` beside the automatic checker), so one of an older
    /// window can end after one of a newer window: the gauges keep the newest window's check.
    pub fn drift_checked(&self, model: &str, drift: bool, rows: usize, seq: u64) {
        self.drift_checks.fetch_add(1, Relaxed);
        let mut last = self.drift_last.lock().unwrap();
        if last.as_ref().is_none_or(|(s, ..)| *s <= seq) {
            *last = Some((seq, model.to_string(), drift, rows));
        }
    }

    /// Count one HTTP response.
    pub fn response(&self, code: u16) {
        let mut r = self.responses.lock().unwrap();
        match r.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => r.push((code, 1)),
        }
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let models = self.models.lock().unwrap().clone();
        let label = |n: &str, r: &str| format!("model=\"{}\",role=\"{r}\"", escape(n));
        // Per (model, role) counters; the comparison counters only for shadows and canaries.
        type Counter = fn(&ModelStats) -> &AtomicU64;
        let counters: [(&str, &str, Counter, bool); 5] = [
            (
                "automl_requests_total",
                "Batches scored, per model and role.",
                |s| &s.requests,
                false,
            ),
            (
                "automl_errors_total",
                "Batches a model failed on.",
                |s| &s.errors,
                false,
            ),
            ("automl_rows_total", "Rows scored.", |s| &s.rows, false),
            (
                "automl_rows_compared_total",
                "Rows of a shadow (or of a canary, against the primary) compared with the other side's answer.",
                |s| &s.compared,
                true,
            ),
            (
                "automl_rows_agreed_total",
                "Compared rows whose answers agreed.",
                |s| &s.agreed,
                true,
            ),
        ];
        for (name, help, get, compared_only) in counters {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
            for (n, r, s) in models
                .iter()
                .filter(|(_, r, _)| !compared_only || *r == "shadow" || *r == "canary")
            {
                let _ = writeln!(o, "{name}{{{}}} {}", label(n, r), get(s).load(Relaxed));
            }
        }
        o.push_str("# HELP automl_predict_seconds Time to score a batch (parsing included).\n# TYPE automl_predict_seconds histogram\n");
        for (n, r, s) in &models {
            let l = label(n, r);
            let mut cum = 0;
            for (b, c) in BUCKETS.iter().zip(&s.buckets) {
                cum += c.load(Relaxed);
                let _ = writeln!(o, "automl_predict_seconds_bucket{{{l},le=\"{b}\"}} {cum}");
            }
            let count = s.requests.load(Relaxed);
            let _ = writeln!(
                o,
                "automl_predict_seconds_bucket{{{l},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                o,
                "automl_predict_seconds_sum{{{l}}} {}",
                s.sum_us.load(Relaxed) as f64 / 1e6
            );
            let _ = writeln!(o, "automl_predict_seconds_count{{{l}}} {count}");
        }
        o.push_str("# HELP automl_http_responses_total HTTP responses by status code.\n# TYPE automl_http_responses_total counter\n");
        let mut resp = self.responses.lock().unwrap().clone();
        resp.sort();
        for (c, n) in resp {
            let _ = writeln!(o, "automl_http_responses_total{{code=\"{c}\"}} {n}");
        }
        for (name, help, v) in [
            (
                "automl_shadow_dropped_total",
                "Off-path jobs (shadow, canary comparison) dropped because their queue was full.",
                &self.shadow_dropped,
            ),
            (
                "automl_log_dropped_total",
                "Prediction log records dropped because the writer fell behind.",
                &self.log_dropped,
            ),
            (
                "automl_canary_promotions_total",
                "Canaries promoted to primary.",
                &self.canary_promotions,
            ),
            (
                "automl_canary_rollbacks_total",
                "Canaries rolled back (by hand or automatically).",
                &self.canary_rollbacks,
            ),
            (
                "automl_drift_checks_total",
                "Drift checks of the recent traffic against the model's training profile.",
                &self.drift_checks,
            ),
        ] {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        if let Some((_, model, drift, rows)) = self.drift_last.lock().unwrap().clone() {
            let m = escape(&model);
            let _ = writeln!(
                o,
                "# HELP automl_drift_detected Whether the last drift check found drift (1) or not (0).\n# TYPE automl_drift_detected gauge\nautoml_drift_detected{{model=\"{m}\"}} {}\n# HELP automl_drift_checked_rows Rows of recent traffic the last drift check used.\n# TYPE automl_drift_checked_rows gauge\nautoml_drift_checked_rows{{model=\"{m}\"}} {rows}",
                u8::from(drift)
            );
        }
        o
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drift_gauges_keep_the_newest_windows_check_whatever_order_checks_end_in() {
        let m = Metrics::default();
        // The check of window 7 (drift) ends first; the check of the older window 5 (none)
        // ends after it and must not hide it.
        m.drift_checked("final", true, 400, 7);
        m.drift_checked("final", false, 300, 5);
        let text = m.render();
        assert!(text.contains("automl_drift_checks_total 2"), "{text}");
        assert!(
            text.contains("automl_drift_detected{model=\"final\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("automl_drift_checked_rows{model=\"final\"} 400"),
            "{text}"
        );
        // A check of the same or a newer window replaces it.
        m.drift_checked("final", false, 400, 7);
        assert!(
            m.render()
                .contains("automl_drift_detected{model=\"final\"} 0")
        );
    }

    #[test]
    fn histogram_is_cumulative_and_labels_are_escaped() {
        let m = Metrics::default();
        let s = m.stats("a\"b", "primary");
        s.observe(3, Duration::from_micros(300), true);
        s.observe(0, Duration::from_millis(30), false);
        assert!(Arc::ptr_eq(&s, &m.stats("a\"b", "primary")));
        m.response(200);
        m.response(200);
        m.response(422);
        let text = m.render();
        let l = "model=\"a\\\"b\",role=\"primary\"";
        assert!(
            text.contains(&format!("automl_requests_total{{{l}}} 2")),
            "{text}"
        );
        assert!(text.contains(&format!("automl_errors_total{{{l}}} 1")));
        assert!(text.contains(&format!("automl_rows_total{{{l}}} 3")));
        assert!(text.contains(&format!(
            "automl_predict_seconds_bucket{{{l},le=\"0.0001\"}} 0"
        )));
        assert!(text.contains(&format!(
            "automl_predict_seconds_bucket{{{l},le=\"0.0005\"}} 1"
        )));
        assert!(text.contains(&format!(
            "automl_predict_seconds_bucket{{{l},le=\"0.05\"}} 2"
        )));
        assert!(text.contains(&format!(
            "automl_predict_seconds_bucket{{{l},le=\"+Inf\"}} 2"
        )));
        assert!(text.contains("automl_http_responses_total{code=\"200\"} 2"));
        assert!(text.contains("automl_http_responses_total{code=\"422\"} 1"));
    }
}
