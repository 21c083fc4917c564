//! `automl serve`: an HTTP service for fitted models.
//!
//! - [`serve`] binds, reports the bound address, and answers until SIGTERM / SIGINT, then
//!   stops accepting, lets in-flight requests finish, drains the prediction log and returns.
//! - Routes (see `http.rs`): `POST /predict` (JSON records or CSV), the Open Inference Protocol
//!   v2 (`/v2/health/{live,ready}`, `/v2/models/{name}`, `/v2/models/{name}/infer`),
//!   `/metrics` (Prometheus text), `GET /drift` (the recent traffic against the model's
//!   reference profile; see `drift.rs`) and the token-guarded `/admin/canary/{promote,rollback}`.
//! - A **shadow** model scores a copy of every request on its own thread, fed by a bounded
//!   queue (`try_send`: when full the job is dropped and counted, never waited for).
//! - A **canary** answers a share of the traffic, chosen by a hash of the `X-Request-Key`
//!   header when given (sticky) or of a request counter; a canary that fails where the primary
//!   succeeds is counted, the primary answers instead, and once its error rate passes the limit
//!   the canary is rolled back automatically. The primary scores the canary's requests again
//!   off the request path (the shadow's queue rules), so the agreement rate of the canary is
//!   counted as the shadow's is.
//! - The prediction log is written by one background thread fed by a bounded channel; a
//!   request never waits for the disk.
//!
//! Models are loaded by the caller (the CLI) before [`serve`] is called, so no store is held.

mod drift;
mod http;
mod metrics;
mod state;

pub use metrics::{BUCKETS, Metrics, ModelStats};
pub use state::{ServedModel, is_url_safe};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything that can stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound or the runtime not started.
    #[error("cannot listen on {addr}: {source}; pick another --port or --host")]
    Bind {
        /// `HOST:PORT` as given.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
    /// The runtime or the server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The prediction log could not be opened.
    #[error(transparent)]
    Log(#[from] automl_monitor::MonitorError),
}

/// How to serve.
pub struct ServeConfig {
    /// Address to bind (default 127.0.0.1).
    pub host: String,
    /// Port (0 = any free port).
    pub port: u16,
    /// The model that answers.
    pub primary: ServedModel,
    /// A model scoring every request off the request path.
    pub shadow: Option<ServedModel>,
    /// A candidate answering `pct` % (0..=100) of the traffic.
    pub canary: Option<(ServedModel, f64)>,
    /// The largest request body accepted, bytes.
    pub max_body: usize,
    /// The longest a request may take (body read and scoring), then 504.
    pub timeout: Duration,
    /// Runtime worker threads.
    pub workers: usize,
    /// The token of the admin endpoints (disabled without one).
    pub admin_token: Option<String>,
    /// Error rate of the canary above which it is rolled back (0..1).
    pub canary_error_limit: f64,
    /// Canary requests needed before the error rate is judged.
    pub canary_min_requests: u64,
    /// Shadow jobs waiting at most; more are dropped.
    pub shadow_queue: usize,
    /// The prediction log's directory; None = no log.
    pub log_dir: Option<PathBuf>,
    /// Log the input rows too.
    pub log_inputs: bool,
    /// Rows of recent traffic kept for drift checks.
    pub drift_window: usize,
    /// Check drift automatically after this many answered rows (0: only on `GET /drift`).
    pub drift_every: u64,
    /// Cells read as missing.
    pub missing_tokens: Vec<String>,
    /// Test hook: the shadow sleeps this long per job.
    pub shadow_delay: Duration,
    /// Test hook: `/predict` waits this long (asynchronously) before scoring, so a test can
    /// hold requests in flight.
    pub request_delay: Duration,
}

impl ServeConfig {
    /// A configuration with the defaults around `primary`.
    pub fn new(primary: ServedModel) -> ServeConfig {
        ServeConfig {
            host: "127.0.0.1".into(),
            port: 8080,
            primary,
            shadow: None,
            canary: None,
            max_body: 16 << 20,
            timeout: Duration::from_secs(30),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            admin_token: None,
            canary_error_limit: 0.05,
            canary_min_requests: 20,
            shadow_queue: 1024,
            log_dir: None,
            log_inputs: false,
            drift_window: 10_000,
            drift_every: 10_000,
            missing_tokens: automl_data::default_missing_tokens(),
            shadow_delay: Duration::ZERO,
            request_delay: Duration::ZERO,
        }
    }
}

/// Serve until SIGTERM or SIGINT. `on_ready` gets the bound address once the server accepts
/// connections. Returns after in-flight requests finished and the log was flushed.
pub fn serve(cfg: ServeConfig, on_ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    if !(0.0..=100.0).contains(&cfg.canary.as_ref().map_or(0.0, |c| c.1)) {
        return Err(ServeError::Config(
            "the canary's share must be between 0 and 100 %".into(),
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.workers.max(1))
        .enable_all()
        .thread_name("serve")
        .build()?;
    let addr = if cfg.host.contains(':') && !cfg.host.starts_with('[') {
        format!("[{}]:{}", cfg.host, cfg.port) // an IPv6 address
    } else {
        format!("{}:{}", cfg.host, cfg.port)
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(&addr))
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener.local_addr()?;
    let (state, background) = state::State::start(cfg)?;
    let state = Arc::new(state);
    let checker = state::spawn_drift_checker(state.clone());
    let app = http::router(state.clone());
    state.event(
        "started",
        &state.primary_name(),
        &format!("listening on {bound}"),
    );
    on_ready(bound);
    rt.block_on(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
    })?;
    state.event("stopped", &state.primary_name(), "SIGTERM/SIGINT");
    state.stop_background();
    drop(state);
    if let Some(c) = checker {
        let _ = c.join();
    }
    background.join();
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
