//! automl-ui: the local web dashboard — a small synchronous HTTP server (tiny_http, no async
//! runtime) serving one self-contained page and the JSON endpoints behind it.
//!
//! The page (`GET /`) inlines all of its CSS and JavaScript and draws its plots as SVG, so it
//! works on a machine without internet. The store is opened per request with
//! [`automl_store::open_read_only`] and dropped right after reading, so the dashboard works
//! while `automl fit` runs (it then reads the snapshot the fit publishes) and never holds the
//! database lock for long. The endpoints are documented in [`api`] and in `crates/ui/README.md`.
//!
//! ```no_run
//! use automl_ui::{serve, UiConfig};
//! let cfg = UiConfig {
//!     store: std::path::PathBuf::from("automl.db").into(),
//!     addr: "127.0.0.1:8765".into(),
//!     log_dir: None,
//! };
//! serve(cfg, |url| println!("dashboard at {url}")).unwrap();
//! ```

pub mod api;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;

/// Number of threads answering requests (store access itself is serialised).
const WORKERS: usize = 4;

/// Where the dashboard reads from and where it listens.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// The store (as given to `automl fit --store`: a directory or a PostgreSQL URL).
    pub store: automl_store::StoreLocation,
    /// Address to listen on, `host:port` (e.g. `127.0.0.1:8765`; port 0 picks a free port).
    pub addr: String,
    /// The prediction log the Serving view reads [default: [`api::default_log_dir`] of the
    /// store].
    pub log_dir: Option<PathBuf>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            store: PathBuf::from("automl.db").into(),
            addr: "127.0.0.1:8765".to_string(),
            log_dir: None,
        }
    }
}

/// An error of the dashboard server.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The listening socket could not be opened.
    #[error(
        "cannot listen on {addr}: {reason}; pick another port with --port (0 = any free port) or stop the program using it"
    )]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the OS said.
        reason: String,
    },
    /// The server stopped receiving requests because of an I/O error.
    #[error("the dashboard server on {url} failed while receiving a request: {source}")]
    Io {
        /// The bound URL.
        url: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A bound (listening) dashboard server. [`Server::url`] tells the actual address, which is
/// how tests learn the port after binding port 0; [`Server::run`] answers requests.
pub struct Server {
    http: Arc<tiny_http::Server>,
    url: String,
    state: Arc<api::Api>,
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub struct StopHandle {
    http: Arc<tiny_http::Server>,
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl StopHandle {
    /// Ask the server to stop: [`Server::run`] returns once in-flight requests are answered.
    pub fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for _ in 0..WORKERS {
            self.http.unblock();
        }
    }
}

impl Server {
    /// Bind `cfg.addr` (port 0 = a free port). The store is not opened here: a store that
    /// does not exist yet is reported by the endpoints (so `automl ui` can be started first).
    pub fn bind(cfg: &UiConfig) -> Result<Server, UiError> {
        let http = tiny_http::Server::http(&cfg.addr).map_err(|e| UiError::Bind {
            addr: cfg.addr.clone(),
            reason: e.to_string(),
        })?;
        let url = match http.server_addr() {
            tiny_http::ListenAddr::IP(a) => {
                let host = match a.ip() {
                    std::net::IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".to_string(),
                    std::net::IpAddr::V4(v4) => v4.to_string(),
                    std::net::IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_string(),
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                };
                format!("http://{host}:{}/", a.port())
            }
            #[allow(unreachable_patterns)]
            _ => format!("http://{}/", cfg.addr),
        };
        Ok(Server {
            http: Arc::new(http),
            url,
            state: Arc::new(match &cfg.log_dir {
                Some(d) => api::Api::with_log_dir(cfg.store.clone(), d.clone()),
                None => api::Api::new(cfg.store.clone()),
            }),
            stopped: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// The URL the server listens on, e.g. `http://127.0.0.1:8765/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        match self.http.server_addr() {
            tiny_http::ListenAddr::IP(a) => a.port(),
            #[allow(unreachable_patterns)]
            _ => 0,
        }
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            http: self.http.clone(),
            stopped: self.stopped.clone(),
        }
    }

    /// Answer requests until stopped (blocks). Requests are answered by a few worker threads.
    pub fn run(self) -> Result<(), UiError> {
        let first_error: Arc<Mutex<Option<std::io::Error>>> = Arc::new(Mutex::new(None));
        let mut workers = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let http = self.http.clone();
            let state = self.state.clone();
            let stopped = self.stopped.clone();
            let first_error = first_error.clone();
            workers.push(thread::spawn(move || {
                loop {
                    if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    match http.recv() {
                        Ok(req) => answer(&state, req),
                        Err(e) => {
                            if !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                                let mut slot =
                                    first_error.lock().unwrap_or_else(|p| p.into_inner());
                                slot.get_or_insert(e);
                            }
                            break;
                        }
                    }
                }
            }));
        }
        for w in workers {
            let _ = w.join();
        }
        let err = first_error.lock().unwrap_or_else(|p| p.into_inner()).take();
        match err {
            Some(source) => Err(UiError::Io {
                url: self.url,
                source,
            }),
            None => Ok(()),
        }
    }
}

/// Bind `cfg.addr`, call `ready` with the bound URL, then answer requests until the process
/// stops (blocks).
pub fn serve(cfg: UiConfig, ready: impl FnOnce(&str)) -> Result<(), UiError> {
    let server = Server::bind(&cfg)?;
    ready(server.url());
    server.run()
}

/// Largest request body accepted (a CSV to predict), bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Read one request, route it through the API and send the response.
fn answer(state: &api::Api, mut req: tiny_http::Request) {
    let method = req.method().as_str().to_ascii_uppercase();
    let url = req.url().to_string();
    let mut body = Vec::new();
    let too_large = req.body_length().is_some_and(|n| n > MAX_BODY_BYTES);
    let resp = if too_large {
        api::Response::error(
            413,
            format!(
                "the request body is larger than {} MiB; predict a smaller file here or use `automl predict` on the command line",
                MAX_BODY_BYTES / (1024 * 1024)
            ),
        )
    } else {
        use std::io::Read;
        match req
            .as_reader()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)
        {
            Ok(_) if body.len() > MAX_BODY_BYTES => api::Response::error(
                413,
                "the request body is too large; use `automl predict` on the command line"
                    .to_string(),
            ),
            Ok(_) => state.handle(&method, &url, &body),
            Err(e) => api::Response::error(400, format!("cannot read the request body: {e}")),
        }
    };
    let mut response = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    for (k, v) in [
        ("Content-Type", resp.content_type),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ] {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    // The client may have gone away; nothing useful to do about it.
    let _ = req.respond(response);
}
