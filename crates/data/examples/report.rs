//! Print the data report of a CSV file: `cargo run -p automl-data --example report -- FILE [TARGET]`.

use std::path::PathBuf;

use automl_data::{ReadOptions, load_training};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: report FILE [TARGET]");
        std::process::exit(2);
    };
    let opts = ReadOptions {
        target: args.next(),
        ..ReadOptions::default()
    };
    match load_training(&path, &opts) {
        Ok(ds) => print!("{}", ds.report),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
