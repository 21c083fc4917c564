//! `automl serve`: an HTTP service for a study's final model (or one trial's, or an exported
//! model file), optionally with a shadow and a canary. Every model is loaded first and the
//! store is closed before the first request, so a `fit` can use the store while this serves.

use anyhow::{Context, Result, bail};
use automl_engine::{LoadedModel, ModelChoice, StoreRead, load_model};
use automl_serve::{ServeConfig, ServedModel, is_url_safe};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `automl serve`.
#[derive(Args, Debug)]
#[command(after_help = "\
Endpoints:
  POST /predict                    JSON array of records, or CSV (Content-Type: text/csv) ->
                                   {\"predictions\": [...], \"probabilities\": [{class: p}, ...]}
  GET  /v2/health/live | /v2/health/ready | /v2/models/NAME     Open Inference Protocol v2
  POST /v2/models/NAME/infer       one input tensor per column
  GET  /metrics                    Prometheus text
  GET  /drift                      the last --drift-window rows answered, checked against the
                                   model's training profile (also every --drift-every rows;
                                   logged, and `automl_drift_detected` in /metrics)
  POST /admin/canary/promote | /admin/canary/rollback, GET /admin/status  (Bearer token)
A request's `X-Request-Key` header keeps it on the same side of a canary split; the
`X-Model` response header names the model that answered.")]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: crate::args::StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Serve this trial's fold models instead of the study's final model.
    #[arg(long, value_name = "ID", conflicts_with = "model")]
    pub trial: Option<u64>,
    /// Serve a model file written by `automl export` (no store needed).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Port to listen on (0 = any free port; the bound port is printed).
    #[arg(long, value_name = "N", default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on; the default serves this machine only.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: String,
    /// A model that scores a copy of every request off the request path (its answers are
    /// compared and logged, never sent): a trial id of the same study or a model file.
    #[arg(long, value_name = "ID_OR_FILE")]
    pub shadow: Option<String>,
    /// A candidate that answers PCT % of the requests (sticky by the `X-Request-Key` header
    /// when one is sent): `TRIAL_ID:PCT` or `FILE:PCT`.
    #[arg(long, value_name = "ID_OR_FILE:PCT")]
    pub canary: Option<String>,
    /// The name in URLs and metrics (`/v2/models/NAME`) [default: study-<id>, or the model
    /// file's stem]; letters, digits, `-`, `.`, `_`, `~`.
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// Largest request body, e.g. 16MiB, 500KB or bytes; larger requests get 413.
    #[arg(long, value_name = "SIZE", default_value = "16MiB")]
    pub max_body: String,
    /// Longest time a request may take, seconds; then 504.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Server threads [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// The token of the admin endpoints (`POST /admin/canary/promote`, `.../rollback`, `GET
    /// /admin/status`, with `Authorization: Bearer TOKEN`); without one they are disabled.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AUTOML_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// The canary is rolled back once its error rate passes this percentage...
    #[arg(long, value_name = "PCT", default_value_t = 5.0)]
    pub canary_error_limit: f64,
    /// ...over at least this many canary requests.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub canary_min_requests: u64,
    /// Shadow jobs that may wait; when the queue is full, shadow work is dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub shadow_queue: usize,
    #[command(flatten)]
    pub log: crate::log_arg::LogDirArgs,
    /// Rows of recent traffic kept for drift checks (`GET /drift`).
    #[arg(long, value_name = "ROWS", default_value_t = 10_000)]
    pub drift_window: usize,
    /// Check the drift window automatically after this many answered rows, off the request
    /// path (0: only on `GET /drift`).
    #[arg(long, value_name = "ROWS", default_value_t = 10_000)]
    pub drift_every: u64,
    /// Keep no prediction log.
    #[arg(long)]
    pub no_log: bool,
    /// Log the input rows as well as their hashes and the predictions.
    #[arg(long, conflicts_with = "no_log")]
    pub log_inputs: bool,
}

/// Parse `16MiB`, `500KB`, `1GB`, `1048576`.
fn parse_size(s: &str) -> Result<usize> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let x: f64 = num.parse().with_context(|| {
        format!("--max-body `{s}`: expected a size such as 16MiB, 500KB or 1048576")
    })?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            bail!("--max-body `{s}`: unknown unit `{other}`; use B, KB, KiB, MB, MiB, GB or GiB")
        }
    };
    Ok((x * mult) as usize)
}

/// A name usable in a URL made from free text (a file stem): other characters become `-`.
fn url_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if n.is_empty() { "model".into() } else { n }
}

/// A `--shadow` / `--canary` model: a trial id of the study, or a file.
enum Source {
    Trial(u64),
    File(PathBuf),
}

fn source(v: &str) -> Source {
    match v.parse::<u64>() {
        Ok(id) if !Path::new(v).exists() => Source::Trial(id),
        _ => Source::File(PathBuf::from(v)),
    }
}

/// Opens the store on first use, so a file-only server never touches it.
struct Lazy<'a> {
    a: &'a ServeArgs,
    store: Option<Box<dyn StoreRead>>,
}

impl Lazy<'_> {
    fn get(&mut self) -> Result<&dyn StoreRead> {
        if self.store.is_none() {
            let at = &self.a.store.store;
            let s = crate::store_arg::open_models(at).map_err(|e| {
                if e.to_string().contains("in use by another automl process") {
                    e.context(format!(
                        "cannot serve from `{at}` while another process (a running `automl fit`?) holds it; serve when it finishes, or serve an exported model file with --model FILE"
                    ))
                } else {
                    e
                }
            })?;
            self.store = Some(s);
        }
        Ok(self.store.as_deref().unwrap())
    }
}

fn from_file(file: &Path, what: &str) -> Result<(LoadedModel, String)> {
    let m = automl_engine::export::read_model_file(file)
        .with_context(|| format!("{what} `{}`", file.display()))?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((m, url_name(&stem)))
}

pub fn run(a: ServeArgs) -> Result<()> {
    let mut lazy = Lazy { a: &a, store: None };
    // The primary.
    let (primary, default_name) = match &a.model {
        Some(file) => from_file(file, "--model")?,
        None => {
            let choice = a.trial.map_or(ModelChoice::Final, ModelChoice::Trial);
            let m = load_model(lazy.get()?, a.study, choice)?;
            let name = format!("study-{}", m.study.study_id);
            (m, name)
        }
    };
    let name = a.model_name.clone().unwrap_or(default_name);
    if !is_url_safe(&name) {
        bail!(
            "--model-name `{name}`: use letters, digits, `-`, `.`, `_` or `~` only (it is part of URLs)"
        );
    }
    let study_id = if a.model.is_none() {
        Some(primary.study.study_id)
    } else {
        a.study
    };
    let mut side = |v: &str, role: &str| -> Result<ServedModel> {
        let (m, n) = match source(v) {
            Source::Trial(t) => {
                let m = load_model(lazy.get()?, study_id, ModelChoice::Trial(t))
                    .with_context(|| format!("--{role} {v}"))?;
                (m, format!("trial-{t}"))
            }
            Source::File(f) => from_file(&f, &format!("--{role}"))?,
        };
        let n = if n == name { format!("{n}-{role}") } else { n };
        Ok(ServedModel {
            name: n,
            description: m.description.clone(),
            model: m,
        })
    };
    let shadow = a.shadow.as_deref().map(|v| side(v, "shadow")).transpose()?;
    let canary = match a.canary.as_deref() {
        None => None,
        Some(v) => {
            let (model, pct) = v.rsplit_once(':').with_context(|| {
                format!("--canary `{v}`: expected TRIAL_ID:PCT or FILE:PCT, e.g. 7:10")
            })?;
            let pct: f64 = pct
                .trim_end_matches('%')
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=100.0).contains(p))
                .with_context(|| format!("--canary `{v}`: PCT must be a number from 0 to 100"))?;
            Some((side(model, "canary")?, pct))
        }
    };
    // Every model is in memory: close the store so a `fit` can open it while this serves.
    drop(lazy);
    if let (Some(s), Some(c)) = (&shadow, &canary) {
        if s.name == c.0.name {
            bail!("--shadow and --canary name the same model `{}`", s.name);
        }
    }
    let primary = ServedModel {
        name: name.clone(),
        description: primary.description.clone(),
        model: primary,
    };
    let description = primary.description.clone();
    let mut cfg = ServeConfig::new(primary);
    cfg.host = a.host.clone();
    cfg.port = a.port;
    cfg.shadow = shadow;
    cfg.canary = canary;
    cfg.max_body = parse_size(&a.max_body)?;
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        bail!(
            "--timeout {}: expected a positive number of seconds",
            a.timeout
        );
    }
    cfg.timeout = Duration::from_secs_f64(a.timeout);
    if let Some(w) = a.workers {
        if w == 0 {
            bail!("--workers 0: expected at least 1 thread");
        }
        cfg.workers = w;
    }
    cfg.admin_token = a.admin_token.clone().filter(|t| !t.is_empty());
    if !(0.0..=100.0).contains(&a.canary_error_limit) {
        bail!(
            "--canary-error-limit {}: expected a percentage from 0 to 100",
            a.canary_error_limit
        );
    }
    cfg.canary_error_limit = a.canary_error_limit / 100.0;
    cfg.canary_min_requests = a.canary_min_requests;
    cfg.shadow_queue = a.shadow_queue;
    let store = a.model.is_none().then_some(&a.store.store);
    cfg.log_dir = (!a.no_log).then(|| a.log.resolve(store));
    cfg.log_inputs = a.log_inputs;
    if a.drift_window == 0 {
        bail!("--drift-window 0: expected at least 1 row");
    }
    cfg.drift_window = a.drift_window;
    cfg.drift_every = a.drift_every;
    // Test hook: a slow shadow, to show it never slows the answers.
    if let Some(ms) = std::env::var("AUTOML_TEST_SHADOW_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        cfg.shadow_delay = Duration::from_millis(ms);
    }
    // Test hook: requests held in flight, to show that SIGTERM lets them finish.
    if let Some(ms) = std::env::var("AUTOML_TEST_REQUEST_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        cfg.request_delay = Duration::from_millis(ms);
    }
    let side_desc = {
        let mut s = String::new();
        if let Some(m) = &cfg.shadow {
            s.push_str(&format!(", shadow {}", m.name));
        }
        if let Some((m, p)) = &cfg.canary {
            s.push_str(&format!(", canary {} at {p} %", m.name));
        }
        s
    };
    automl_serve::serve(cfg, |addr| {
        println!("serving {description} as {name}{side_desc} on http://{addr}");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    })
    .context("automl serve")
}
