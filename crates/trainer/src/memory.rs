//! The per-trial memory guard: an estimate of the peak bytes one candidate's fit needs (from
//! rows x features x model family and its parameters), the default limit, and the check that
//! turns an over-limit candidate into a failed trial before it is fitted, so one candidate
//! cannot take the machine down.
//!
//! The estimates are deliberately simple upper-side figures of the large buffers each family
//! allocates (see [`estimate_bytes`]); they are not a measurement. A family that knows better
//! overrides [`automl_models::Family::memory_estimate`], which takes precedence.

use automl_core::Params;
use automl_models::Family;

const F64: u64 = 8;
const GIB: u64 = 1 << 30;
/// The smallest default limit, whatever the machine and the number of jobs.
const MIN_DEFAULT_LIMIT: u64 = 512 << 20;
/// Assumed RAM when `/proc/meminfo` cannot be read (non-Linux).
const FALLBACK_RAM: u64 = 16 * GIB;

fn int_param(params: &Params, name: &str, default: i64) -> u64 {
    params
        .get(name)
        .and_then(|v| v.as_i64())
        .unwrap_or(default)
        .max(1) as u64
}

/// Estimated peak bytes of fitting `family` with `params` on `rows` x `cols` (after
/// preprocessing) with `n_classes` classes (0 for regression), from the trainer's table.
/// The shared fold matrices are not counted (they exist once for all candidates).
///
/// | family | what dominates |
/// |---|---|
/// | `knn` | a copy of the training matrix, plus one 256-row block of distances at predict time |
/// | `svm` | the rows x rows kernel matrix (f64), plus working copies of the data |
/// | `gbdt` | u8 bins, gradients/hessians/scores per row and output, histograms per open leaf, trees |
/// | `random_forest`, `extra_trees` | u8 bins, row index buffers, and every tree's nodes (about 2 rows / min_samples_leaf each) |
/// | `mlp` | an f32 copy of the data and of its validation share, Adam's state (4 × weights), a batch's activations |
/// | `decision_tree` | three copies of the data (sorting), one tree |
/// | `logistic`, `linear`, `ridge`, `lasso`, `elastic_net`, `naive_bayes` | three copies of the data (the solver's design matrix, gradient work) |
/// | anything else | four copies of the data |
pub fn estimate_bytes(
    family: &str,
    params: &Params,
    rows: usize,
    cols: usize,
    n_classes: usize,
) -> u64 {
    let (r, c) = (rows as u64, cols.max(1) as u64);
    let outputs = if n_classes > 2 { n_classes as u64 } else { 1 };
    let data = r.saturating_mul(c).saturating_mul(F64);
    let est = match family {
        "knn" => data
            .saturating_mul(2)
            .saturating_add(256u64.saturating_mul(r).saturating_mul(F64)),
        "svm" => {
            // linfa-svm's SMO keeps the full kernel matrix; one-vs-rest machines are fitted
            // one after another, so one matrix at a time.
            r.saturating_mul(r)
                .saturating_mul(F64)
                .saturating_add(data.saturating_mul(3))
        }
        "gbdt" => {
            let max_leaves = int_param(params, "max_leaves", 31);
            let max_rounds = int_param(params, "max_rounds", 500);
            let max_bins = int_param(params, "max_bins", 255) + 1;
            let bins = r.saturating_mul(c);
            // gradient + hessian + running score per row and output, plus row indices
            let per_row = r
                .saturating_mul(outputs)
                .saturating_mul(3 * F64)
                .saturating_add(r.saturating_mul(8));
            // one histogram (g, h, n) per open leaf
            let hist = max_leaves
                .saturating_mul(c)
                .saturating_mul(max_bins)
                .saturating_mul(3 * F64);
            // nodes (~32 bytes) + leaf values per round and output
            let trees = max_rounds
                .saturating_mul(outputs)
                .saturating_mul(max_leaves)
                .saturating_mul(48);
            bins.saturating_add(per_row)
                .saturating_add(hist)
                .saturating_add(trees)
        }
        "random_forest" | "extra_trees" => {
            let n_trees = int_param(params, "n_trees", 100);
            let min_leaf = int_param(params, "min_samples_leaf", 1);
            let nodes = (r.saturating_mul(2) / min_leaf).max(1);
            let node_bytes = (n_classes.max(1) as u64)
                .saturating_mul(8)
                .saturating_add(40);
            let trees = n_trees.saturating_mul(nodes).saturating_mul(node_bytes);
            let bins = r.saturating_mul(c);
            bins.saturating_add(r.saturating_mul(32))
                .saturating_add(trees)
        }
        "mlp" => {
            // an f32 copy of the data (+ the validation rows), a batch's activations, and per
            // weight: value, two Adam moments, the best epoch's copy (f32 each)
            let width = int_param(params, "width", 128);
            let layers = int_param(params, "n_layers", 2);
            let batch = int_param(params, "batch_size", 128).min(r.max(1));
            let weights = c
                .saturating_add(outputs)
                .saturating_mul(width)
                .saturating_add(layers.saturating_mul(width).saturating_mul(width));
            let acts = batch
                .saturating_mul(c.saturating_add(layers.saturating_mul(width)))
                .saturating_mul(3 * 4);
            r.saturating_mul(c)
                .saturating_mul(4 + 4)
                .saturating_add(
                    r.saturating_mul(outputs.saturating_add(2))
                        .saturating_mul(F64),
                )
                .saturating_add(weights.saturating_mul(4 * 4))
                .saturating_add(acts)
        }
        "decision_tree" => data.saturating_mul(3).saturating_add(r.saturating_mul(64)),
        "logistic" | "linear" | "ridge" | "lasso" | "elastic_net" | "naive_bayes" => data
            .saturating_mul(3)
            .saturating_add(r.saturating_mul(outputs).saturating_mul(F64 * 2)),
        _ => data.saturating_mul(4),
    };
    // small fixed overhead of any fit (model structs, solver state)
    est.saturating_add(1 << 20)
}

/// The estimate for `family`: its own [`Family::memory_estimate`] when it gives one, else
/// [`estimate_bytes`].
pub fn estimate_for(
    family: &dyn Family,
    params: &Params,
    rows: usize,
    cols: usize,
    n_classes: usize,
) -> u64 {
    family
        .memory_estimate(params, rows, cols, n_classes)
        .unwrap_or_else(|| estimate_bytes(family.name(), params, rows, cols, n_classes))
}

/// Total RAM of the machine in bytes (`MemTotal` of `/proc/meminfo`), if it can be read.
pub fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | Some("KB") | Some("kb") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// Resident memory of this process in bytes (`VmRSS` of `/proc/self/status`), if it can be
/// read (Linux). What `--max-memory` admits trials against.
pub fn process_rss() -> Option<u64> {
    status_field("VmRSS:")
}

/// Peak resident memory of this process so far in bytes (`VmHWM`), if it can be read.
pub fn process_peak_rss() -> Option<u64> {
    status_field("VmHWM:")
}

fn status_field(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status_field(&text, key)
}

fn parse_status_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let mut parts = line[key.len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | Some("KB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// Bytes a study over `rows` × `cols` loaded rows needs beyond the loaded data before any trial
/// runs, for the whole-process bound (`--max-memory`): the training data's shared fold
/// structures (per fold of `folds`, u8 bins of the training rows and one f64 matrix of the
/// preprocessed rows), the out-of-fold predictions kept for the ensemble (20 × rows f64) and
/// 64 MB for the store's cache and the runtime. An upper-side figure, like [`estimate_bytes`].
pub fn study_floor_bytes(rows: usize, cols: usize, folds: usize) -> u64 {
    let (r, c, k) = (rows as u64, cols.max(1) as u64, folds.max(1) as u64);
    let per_fold = r.saturating_mul(c).saturating_mul(1 + F64);
    per_fold
        .saturating_mul(k)
        .saturating_add(r.saturating_mul(20 * F64))
        .saturating_add(64 << 20)
}

/// The default per-trial limit: half of the machine's RAM (`MemTotal`; 16 GiB assumed when it
/// cannot be read), never below 512 MiB. It does not depend on how many trials run at once, so
/// a candidate fails or fits the same way with any `jobs`; the engine's scheduler keeps the
/// running trials' estimates together within the same half of the RAM (a large trial waits
/// for others to finish), which leaves the rest for the OS, the shared fold matrices and the
/// store.
pub fn default_memory_limit() -> u64 {
    limit_for(total_memory().unwrap_or(FALLBACK_RAM))
}

fn limit_for(total: u64) -> u64 {
    (total / 2).max(MIN_DEFAULT_LIMIT)
}

/// Render a byte count for messages: `512.0 MB`, `12.3 GB` (binary units: 1 GB = 2^30 bytes).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parse a memory size as given to `--memory-limit`: a number with an optional unit `K`, `M`,
/// `G` or `T` (binary: `G` = 2^30 bytes; `KB`/`KiB`, `GB`/`GiB`... mean the same), or bytes
/// with no unit. Examples: `8G`, `1.5GB`, `512M`, `1073741824`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let scale: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`; use a number with K, M, G or T, e.g. 8G"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a memory size; use e.g. 8G, 512M or 1.5GB"))?;
    let bytes = value * scale as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(format!(
            "`{text}` is out of range; give at least 1 byte, e.g. 8G"
        ));
    }
    Ok(bytes as u64)
}

/// Check a candidate against the limit before fitting it. `Err` holds the message of the
/// failed trial, e.g. "needs about 12.3 GB (estimate for gbdt on 25640 x 26), over the memory
/// limit of 8.0 GB; raise --memory-limit or use fewer rows".
pub fn check(
    family: &dyn Family,
    params: &Params,
    rows: usize,
    cols: usize,
    n_classes: usize,
    limit: u64,
) -> Result<(), String> {
    let need = estimate_for(family, params, rows, cols, n_classes);
    if need <= limit {
        return Ok(());
    }
    Err(format!(
        "needs about {} (estimate for {} on {rows} x {cols}), over the memory limit of {}; raise --memory-limit or use fewer rows",
        format_bytes(need),
        family.name(),
        format_bytes(limit),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_memory_is_read_from_proc_status() {
        let text = "Name:\tautoml\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(parse_status_field(text, "VmRSS:"), Some(100 << 20));
        assert_eq!(parse_status_field(text, "VmHWM:"), Some(200 << 20));
        assert_eq!(parse_status_field(text, "VmSwap:"), None);
        if cfg!(target_os = "linux") {
            let rss = process_rss().expect("linux has /proc/self/status");
            assert!(rss > 0 && process_peak_rss().unwrap() >= rss);
        }
        // 1M rows x 20 columns, one holdout fold: 180 MB of fold data, 160 MB of out-of-fold
        // predictions, 64 MB of runtime.
        assert_eq!(
            study_floor_bytes(1_000_000, 20, 1),
            180_000_000 + 160_000_000 + (64 << 20)
        );
    }
    use automl_core::ParamValue;
    use automl_models::registry;

    #[test]
    fn meminfo_is_parsed_in_kilobytes() {
        let text = "MemFree: 10 kB\nMemTotal:       24683656 kB\nSwap: 0 kB\n";
        assert_eq!(parse_meminfo(text), Some(24683656 * 1024));
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: lots kB\n"), None);
    }

    #[test]
    fn default_limit_is_half_the_ram_with_a_floor() {
        assert_eq!(limit_for(16 * GIB), 8 * GIB);
        assert_eq!(limit_for(GIB / 2), MIN_DEFAULT_LIMIT);
        assert!(default_memory_limit() >= MIN_DEFAULT_LIMIT);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_bytes("8G"), Ok(8 * GIB));
        assert_eq!(parse_bytes("1.5GB"), Ok(3 * GIB / 2));
        assert_eq!(parse_bytes("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("2048"), Ok(2048));
        assert_eq!(parse_bytes("1t"), Ok(1 << 40));
        for bad in ["", "G", "8X", "-1G", "0", "1e400"] {
            assert!(parse_bytes(bad).is_err(), "{bad} must be rejected");
        }
        assert_eq!(format_bytes(512), "512 bytes");
        assert_eq!(format_bytes(3 * GIB / 2), "1.5 GB");
    }

    #[test]
    fn estimates_grow_with_rows_and_follow_the_families_big_buffers() {
        let p = Params::new();
        for fam in registry().families() {
            if fam.name().starts_with("test_") {
                continue; // AUTOML_TEST_FAMILIES=1: test_alloc declares a fixed size
            }
            let small = estimate_for(fam, &p, 1_000, 10, 2);
            let big = estimate_for(fam, &p, 100_000, 10, 2);
            assert!(big > small, "{}: {big} <= {small}", fam.name());
        }
        // svm: the kernel matrix alone is rows^2 * 8 bytes
        assert!(estimate_bytes("svm", &p, 20_000, 10, 2) >= 20_000 * 20_000 * 8);
        // knn keeps the training matrix: at least rows x cols x 8
        assert!(estimate_bytes("knn", &p, 50_000, 100, 2) >= 50_000 * 100 * 8);
        // forests: smaller leaves and more trees cost more
        let mut rf = Params::new();
        rf.insert("n_trees".into(), ParamValue::Int(400));
        let many = estimate_bytes("random_forest", &rf, 10_000, 10, 2);
        assert!(many > estimate_bytes("random_forest", &p, 10_000, 10, 2));
        rf.insert("min_samples_leaf".into(), ParamValue::Int(20));
        assert!(estimate_bytes("random_forest", &rf, 10_000, 10, 2) < many);
        // gbdt: multiclass needs more than binary
        assert!(
            estimate_bytes("gbdt", &p, 10_000, 10, 5) > estimate_bytes("gbdt", &p, 10_000, 10, 2)
        );
        // a huge request saturates instead of overflowing
        for fam in [
            "svm",
            "knn",
            "gbdt",
            "random_forest",
            "decision_tree",
            "ridge",
            "other",
        ] {
            assert_eq!(
                estimate_bytes(fam, &p, usize::MAX, usize::MAX, usize::MAX),
                u64::MAX,
                "{fam}"
            );
        }
    }

    #[test]
    fn the_check_names_need_family_shape_and_limit() {
        let knn = registry().get("knn").unwrap();
        let p = Params::new();
        assert!(check(knn, &p, 1_000, 10, 2, GIB).is_ok());
        let err = check(knn, &p, 1_000_000, 100, 2, GIB).unwrap_err();
        assert!(err.contains("estimate for knn on 1000000 x 100"), "{err}");
        assert!(err.contains("over the memory limit of 1.0 GB"), "{err}");
        assert!(err.contains("--memory-limit"), "{err}");
    }
}
