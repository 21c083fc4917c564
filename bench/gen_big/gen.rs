//! A seeded synthetic table for the big-data benchmark and tests: `rows` rows of 20 feature
//! columns (16 numeric, two with 10 % missing cells; 4 categorical of 3, 12, 60 and about 20 000
//! levels, one with 5 % missing cells) and a target with real, partly non-linear signal:
//! `y` (regression) or `label` (binary, about 40 % positive). Standard library only, so the
//! same generator serves `cargo run --example gen_big` and the integration tests.

use std::io::Write;

/// SplitMix64: tiny, seeded, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The target kind of the generated table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A numeric target `y` (noise standard deviation 0.5).
    Regression,
    /// A 0/1 target `label` from a logistic link on the same signal.
    Binary,
}

/// Per-level effect of a categorical column, from its level index (deterministic).
fn level_effect(col: u64, level: u64) -> f64 {
    let mut r = Rng(col.wrapping_mul(1_000_003).wrapping_add(level));
    r.normal()
}

/// Write the table as CSV to `out`.
pub fn write_csv(
    out: &mut dyn Write,
    rows: usize,
    seed: u64,
    target: Target,
) -> std::io::Result<()> {
    let mut rng = Rng(seed ^ 0x5EED_B16D_A7A0_0000);
    let mut header: Vec<String> = (0..16).map(|i| format!("x{i}")).collect();
    header.extend(["c_small", "c_mid", "c_wide", "c_id_like"].map(String::from));
    header.push(match target {
        Target::Regression => "y".into(),
        Target::Binary => "label".into(),
    });
    writeln!(out, "{}", header.join(","))?;
    let levels = [3u64, 12, 60, 20_000];
    let mut line = String::with_capacity(512);
    for _ in 0..rows {
        line.clear();
        let x: Vec<f64> = (0..16).map(|_| rng.normal()).collect();
        let c: Vec<u64> = levels.iter().map(|&n| rng.below(n)).collect();
        let missing5 = rng.uniform() < 0.10;
        let missing6 = rng.uniform() < 0.10;
        let missing_mid = rng.uniform() < 0.05;
        let signal = 1.5 * x[0].sin() * 2.0
            + x[1] * x[2]
            + x[3].abs()
            + 0.5 * x[4] * x[4]
            + if missing5 { 0.7 } else { 0.6 * x[5] }
            + 0.4 * x[6].max(0.0)
            + 0.3 * x[7]
            - 0.2 * x[8]
            + 0.8 * level_effect(0, c[0])
            + 0.5 * level_effect(1, c[1])
            + 0.4 * level_effect(2, c[2])
            + 0.3 * level_effect(3, c[3] % 200);
        for (i, v) in x.iter().enumerate() {
            if (i == 5 && missing5) || (i == 6 && missing6) {
                line.push(',');
            } else {
                line.push_str(&format!("{v:.5},"));
            }
        }
        line.push_str(&format!("s{},", c[0]));
        if !missing_mid {
            line.push_str(&format!("m{}", c[1]));
        }
        line.push_str(&format!(",w{},id{},", c[2], c[3]));
        match target {
            Target::Regression => {
                line.push_str(&format!("{:.5}", signal + 0.5 * rng.normal()));
            }
            Target::Binary => {
                let p = 1.0 / (1.0 + (-(signal - 2.2)).exp());
                line.push(if rng.uniform() < p { '1' } else { '0' });
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}
