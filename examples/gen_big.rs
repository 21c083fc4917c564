//! Write the seeded big-data benchmark table (bench/README.md, "A million rows"):
//! `cargo run --release --example gen_big -- ROWS OUT.csv [SEED] [regression|binary]`.

#[path = "../bench/gen_big/gen.rs"]
mod gen_big;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(rows), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: gen_big ROWS OUT.csv [SEED] [regression|binary]");
        std::process::exit(2);
    };
    let rows: usize = rows.replace('_', "").parse().expect("ROWS is a number");
    let seed: u64 = args
        .get(2)
        .map_or(0, |s| s.parse().expect("SEED is a number"));
    let target = match args.get(3).map(String::as_str) {
        None | Some("regression") => gen_big::Target::Regression,
        Some("binary") => gen_big::Target::Binary,
        Some(other) => panic!("unknown target {other}"),
    };
    let file = std::fs::File::create(out)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    gen_big::write_csv(&mut w, rows, seed, target)
}
