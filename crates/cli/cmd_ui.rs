//! `automl ui`: serve the local web dashboard over a store until Ctrl-C.

use anyhow::{Context, Result};
use automl_store::StoreLocation;
use clap::Args;

/// Arguments of `automl ui`.
#[derive(Args, Debug)]
pub struct UiArgs {
    /// The store to show (it may be in use by a running `automl fit`; the page follows it live).
    #[command(flatten)]
    pub store: crate::args::StoreArgs,
    /// Port to listen on (0 = any free port).
    #[arg(long, value_name = "P", default_value_t = 8765)]
    pub port: u16,
    /// Address to listen on; the default serves this machine only. Use 0.0.0.0 to share the
    /// dashboard on your network (it has no authentication).
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// The prediction log shown in the Serving view.
    #[command(flatten)]
    pub log: crate::log_arg::LogDirArgs,
}

/// Serve the dashboard; blocks until the process is stopped (Ctrl-C).
pub fn run(a: UiArgs) -> Result<()> {
    let host = if a.host.contains(':') && !a.host.starts_with('[') {
        format!("[{}]", a.host) // an IPv6 address
    } else {
        a.host.clone()
    };
    let cfg = automl_ui::UiConfig {
        store: a.store.store.clone(),
        addr: format!("{host}:{}", a.port),
        log_dir: Some(a.log.resolve(Some(&a.store.store))),
    };
    let store = a.store.store.to_string();
    automl_ui::serve(cfg, |url| {
        if matches!(&a.store.store, StoreLocation::Dir(d) if !d.exists()) {
            eprintln!("note: no store at `{store}` yet; the page will show it once `automl fit --store {store}` starts");
        }
        println!("automl dashboard for `{store}`: {url}  (Ctrl-C to stop)");
    })
    .context("automl ui")
}
