//! Peak resident memory of deleting a large artifact from a `SledStore` (Linux: reads
//! `/proc/self/status` and resets the peak through `/proc/self/clear_refs`). Two trials with a
//! 40 MB incompressible artifact each (2,560 chunks) are written, then deleted one by one.
//!
//! `cargo run --release -p automl-store --example delete_peak` (BENCHMARKS §57: removing the
//! chunks inside the transaction raised the peak by 44 MB, after it by 6 MB).
use automl_store::conformance::{completed, sample_candidate, sample_study};
use automl_store::{SledStore, Store};

/// Resident and peak resident memory, MB.
fn hwm() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse::<u64>()
            .unwrap()
            / 1024
    };
    (get("VmRSS:"), get("VmHWM:"))
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let id = s.create_study(sample_study("d")).unwrap();
    let mut x = 0x9e3779b97f4a7c15u64;
    let art: Vec<u8> = (0..40 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect();
    for i in 0..2 {
        let t = s
            .start_trial(id, &sample_candidate(i), "random", 0)
            .unwrap();
        s.finish_trial(&completed(t, 0.5), Some(&art)).unwrap();
    }
    drop(art);
    std::thread::sleep(std::time::Duration::from_secs(2));
    println!(
        "after the writes: resident {} MB, peak {} MB",
        hwm().0,
        hwm().1
    );
    for trial in 0..2 {
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let (before, _) = hwm();
        s.delete_artifact(id, trial).unwrap();
        let (after, peak) = hwm();
        println!(
            "delete {trial}: resident {before} MB before, {after} MB after, peak {peak} MB (+{} MB)",
            peak.saturating_sub(before)
        );
    }
}
