//! Property tests (fuzzing) of the search-space parser: arbitrary text and mutated versions of
//! the shipped files never make `SearchSpace::from_toml_str` panic, and every space it accepts
//! behaves: defaults, samples, decoded points, mutations and crossovers are valid
//! configurations, encodings lie in [0,1], and the emitted TOML parses to the same space.
//!
//! CI runs the default number of cases; for a long run outside CI set `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=300000 cargo test -p automl-space --test prop_space`.

use automl_core::{Rng, Task};
use automl_space::SearchSpace;
use proptest::prelude::*;

const DEFAULT: &str = include_str!("../../../search-spaces/default.toml");
const FAST: &str = include_str!("../../../search-spaces/fast.toml");
const SMALL: &str = include_str!("fixtures/small.toml");

/// Replacement tokens: edge-case values, key names, type names, punctuation.
const VOCAB: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.0",
    "1e-300",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "nan",
    "inf",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "0.5",
    "\"\"",
    "\"x\"",
    "\"rbf\"",
    "[]",
    "[1, 2]",
    "[\"a\", \"a\"]",
    "{}",
    "true",
    "false",
    "low",
    "high",
    "log",
    "default",
    "when",
    "tasks",
    "type",
    "choices",
    "value",
    "float",
    "int",
    "categorical",
    "fixed",
    "version",
    "name",
    "families",
    "params",
    "\"binary\"",
    "\"regression\"",
    "=",
    ",",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "#",
    ".",
    "kernel",
    "degree",
];

/// Split text into word tokens (runs of identifier / number characters) and everything else.
fn tokens(text: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || "_.+-".contains(c);
    let mut out: Vec<String> = Vec::new();
    for c in text.chars() {
        match out.last_mut() {
            Some(last) if word(c) && last.chars().all(word) => last.push(c),
            _ => out.push(c.to_string()),
        }
    }
    out
}

fn mutated(base: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut toks = tokens(base);
    for &(pos, op, v) in edits {
        if toks.is_empty() {
            toks.push(VOCAB[v % VOCAB.len()].to_string());
            continue;
        }
        let p = pos % toks.len();
        match op % 5 {
            0 | 1 => toks[p] = VOCAB[v % VOCAB.len()].to_string(),
            2 => {
                toks.remove(p);
            }
            3 => toks.insert(p, VOCAB[v % VOCAB.len()].to_string()),
            _ => {
                // duplicate a token from elsewhere (e.g. a whole line's key or value)
                let q = v % toks.len();
                let t = toks[q].clone();
                toks.insert(p, t);
            }
        }
    }
    toks.concat()
}

/// Everything a strategy does with a space must work on any space the parser accepts.
fn exercise(space: &SearchSpace, seed: u64) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(seed);
    for task in [Task::Binary, Task::Multiclass, Task::Regression] {
        for fam in space.families_for(task) {
            let name = &fam.name;
            let d = fam.default_params(task);
            prop_assert!(fam.is_valid(task, &d), "{name}: default {d:?} is invalid");
            let s = fam.sample(task, &mut rng);
            prop_assert!(fam.is_valid(task, &s), "{name}: sample {s:?} is invalid");
            let u = fam.encode(task, &s);
            prop_assert_eq!(u.len(), fam.dims(task));
            prop_assert!(
                u.iter().all(|x| (0.0..=1.0).contains(x)),
                "{}: encoding {:?} leaves [0,1]",
                name,
                u
            );
            let back = fam.decode(task, &u);
            prop_assert!(
                fam.is_valid(task, &back),
                "{name}: decoded {back:?} is invalid"
            );
            let point: Vec<f64> = (0..fam.dims(task)).map(|_| rng.f64()).collect();
            let p = fam.decode(task, &point);
            prop_assert!(fam.is_valid(task, &p), "{name}: decoded {p:?} is invalid");
            let n_changes = 1 + rng.below(3);
            let m = fam.mutate(task, &s, &mut rng, n_changes);
            prop_assert!(fam.is_valid(task, &m), "{name}: mutant {m:?} is invalid");
            let c = fam.crossover(task, &s, &d, &mut rng);
            prop_assert!(fam.is_valid(task, &c), "{name}: crossover {c:?} is invalid");
        }
    }
    let emitted = space.to_toml();
    let again = SearchSpace::from_toml_str(&emitted, "emitted");
    prop_assert!(
        again.is_ok(),
        "emitted TOML does not parse: {:?}\n{}",
        again.err(),
        emitted
    );
    let again = again.unwrap();
    prop_assert_eq!(
        &again.families,
        &space.families,
        "emit -> parse changed the space"
    );
    Ok(())
}

fn base() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![DEFAULT, FAST, SMALL])
}

// 256 cases by default; the environment variable PROPTEST_CASES overrides it.
proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        if let Ok(space) = SearchSpace::from_toml_str(&text, "fuzz.toml") {
            exercise(&space, 1)?;
        }
    }

    #[test]
    fn toml_like_text_never_panics(
        text in "(\\[families\\.[a-z]{1,3}(\\.params)?\\]\n|[a-z]{1,5} = |\\{ ?|\\} ?|type = \"(float|int|categorical|fixed)\"|low = -?[0-9]{1,3}|high = [0-9e.]{1,5}|default = [0-9.]{1,4}|choices = \\[\"a\"(, \"b\")?\\]|, |\n|version = 1\n|log = true|when = \\{ [a-z] = \\[\"a\"\\] \\}){0,40}"
    ) {
        if let Ok(space) = SearchSpace::from_toml_str(&text, "fuzz.toml") {
            exercise(&space, 2)?;
        }
    }

    #[test]
    fn mutated_shipped_files_never_panic(
        base in base(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..5),
        seed in any::<u64>(),
    ) {
        let text = mutated(base, &edits);
        if let Ok(space) = SearchSpace::from_toml_str(&text, "mutated.toml") {
            exercise(&space, seed)?;
        }
    }

    #[test]
    fn shipped_files_behave_for_any_seed(base in base(), seed in any::<u64>()) {
        let space = SearchSpace::from_toml_str(base, "shipped.toml").expect("shipped space parses");
        exercise(&space, seed)?;
    }
}
