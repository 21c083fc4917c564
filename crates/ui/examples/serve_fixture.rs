//! Serve the dashboard over a store, for trying the page and for the browser test before (or
//! without) the `automl` binary: `cargo run -p automl-ui --example serve_fixture -- [--store DIR] [--port P]`.
//! Without `--store`, or when DIR does not exist yet, a fixture study of made-up trials is
//! written there first (a temporary directory by default).

#[path = "../tests/common/fixture.rs"]
mod fixture;

use std::path::PathBuf;

fn main() {
    let mut store: Option<PathBuf> = None;
    let mut port: u16 = 8765;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--store" => store = args.next().map(PathBuf::from),
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            other => {
                eprintln!("unknown argument `{other}`; use --store DIR and --port P");
                std::process::exit(2);
            }
        }
    }
    let _tmp;
    let store = match store {
        Some(s) => s,
        None => {
            _tmp = tempfile::tempdir().expect("create a temporary directory");
            _tmp.path().join("store")
        }
    };
    if !store.exists() {
        let id = fixture::write_fixture(&store, true);
        eprintln!("wrote fixture study {id} to {}", store.display());
    }
    let cfg = automl_ui::UiConfig {
        store: store.into(),
        addr: format!("127.0.0.1:{port}"),
        log_dir: None,
    };
    let result = automl_ui::serve(cfg, |url| println!("automl dashboard: {url}"));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
