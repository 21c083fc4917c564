//! Tests of the multi-fidelity wrapper (ASHA), warm start / portfolio ordering and the portfolio
//! file, on a synthetic objective whose low-fidelity score is the true loss plus a pessimistic
//! bias and noise that shrink with the fidelity, asked with the engine's lag.

use automl_core::{
    Candidate, Metric, ParamValue, Params, SCHEMA_VERSION, Task, TrialRecord, TrialState,
};
use automl_search::{
    AskContext, FamilyInfo, InnerFeed, PortfolioError, Strategy, StrategyOptions,
    SuccessiveHalving, by_name, by_name_with, candidate_key, load_portfolio, portfolio_for,
    portfolio_to_toml,
};
use automl_space::SearchSpace;
use std::collections::{BTreeMap, BTreeSet};

const SYNTHETIC: &str = r#"
version = 1
name = "synthetic"
[families.cheap]
[families.cheap.params]
a = { type = "float", low = 0.0, high = 1.0, default = 0.5 }
b = { type = "float", low = 0.001, high = 10.0, log = true, default = 1.0 }
[families.good]
[families.good.params]
x = { type = "float", low = 0.0, high = 1.0, default = 0.5 }
lr = { type = "float", low = 1e-4, high = 1.0, log = true, default = 0.01 }
depth = { type = "int", low = 1, high = 30, default = 5 }
kind = { type = "categorical", choices = ["a", "b", "c"], default = "a" }
z = { type = "float", low = 0.0, high = 1.0, default = 0.5, when = { kind = ["b", "c"] } }
"#;

/// The engine's ask lag: trial `i` is asked after trials `0..i-WINDOW` were told.
const WINDOW: usize = 6;

fn synthetic() -> SearchSpace {
    SearchSpace::from_toml_str(SYNTHETIC, "synthetic.toml").unwrap()
}

fn families() -> Vec<FamilyInfo> {
    vec![FamilyInfo::new("cheap", 1.0), FamilyInfo::new("good", 2.0)]
}

fn record(id: u64, candidate: Candidate, state: TrialState, mean: f64) -> TrialRecord {
    TrialRecord {
        schema_version: SCHEMA_VERSION,
        study_id: 1,
        trial_id: id,
        strategy: String::new(),
        state,
        fold_scores: if mean.is_finite() {
            vec![mean]
        } else {
            Vec::new()
        },
        mean,
        std: 0.0,
        metrics: Default::default(),
        fit_time_s: candidate.fidelity,
        predict_time_per_row_s: 0.0,
        model_size_bytes: 0,
        has_artifact: false,
        error: (state != TrialState::Complete).then(|| "synthetic failure".to_string()),
        seed: id,
        started_at_ms: id,
        ended_at_ms: id + 1,
        extra: Default::default(),
        candidate,
        ensemble: None,
    }
}

fn distance(u: &[f64], opt: &[f64]) -> f64 {
    u.iter()
        .zip(opt)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

/// The full-fidelity loss (None = the trial fails): distance to a hidden optimum; `good` reaches
/// 0, `cheap` at best 0.2; `good` with kind = c and depth >= 28 fails.
fn true_loss(space: &SearchSpace, c: &Candidate) -> Option<f64> {
    let fam = space.family(&c.family).unwrap();
    let u = fam.encode(Task::Regression, &c.params);
    match c.family.as_str() {
        "good" => {
            if c.params["kind"].as_str() == Some("c") && c.params["depth"].as_i64().unwrap() >= 28 {
                return None;
            }
            Some(0.6 * distance(&u, &[0.73, 0.2, 0.6, 0.5, 0.35]))
        }
        _ => Some(0.2 + distance(&u, &[0.3, 0.8])),
    }
}

/// FNV-1a, to seed the noise of one evaluation.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Loss at the candidate's fidelity f: true loss + (1 - f) * (0.1 + 0.15 * N(0, 1)), the noise
/// fixed by (configuration, fidelity, run seed). Exact at f = 1.
fn observed_loss(space: &SearchSpace, c: &Candidate, seed: u64) -> Option<f64> {
    let loss = true_loss(space, c)?;
    let f = c.fidelity;
    let key = format!("{}#{}", candidate_key(&c.family, &c.params), f.to_bits());
    let mut rng = automl_core::Rng::derive(seed, fnv(&key));
    Some(loss + (1.0 - f) * (0.1 + 0.15 * rng.normal()))
}

struct Run {
    proposals: Vec<Candidate>,
    /// Number of trials told when each proposal was asked.
    told_at_ask: Vec<usize>,
    history: Vec<TrialRecord>,
}

/// The engine's loop: ask while fewer than `WINDOW` trials are pending and the asked cost (sum of
/// fidelities) is below `cost_budget`; tell the oldest pending trial otherwise.
fn simulate(
    strategy: &mut dyn Strategy,
    space: &SearchSpace,
    families: &[FamilyInfo],
    cost_budget: f64,
    window: usize,
    seed: u64,
) -> Run {
    let mut run = Run {
        proposals: Vec::new(),
        told_at_ask: Vec::new(),
        history: Vec::new(),
    };
    let mut cost = 0.0;
    let mut exhausted = false;
    loop {
        let told = run.history.len();
        if !exhausted && cost < cost_budget && run.proposals.len() < told + window {
            let ctx = AskContext {
                space,
                task: Task::Regression,
                metric: Metric::Rmse,
                families,
                history: &run.history,
                elapsed_fraction: 0.0,
                time_left_s: None,
            };
            match strategy.ask(&ctx) {
                Some(c) => {
                    assert!(c.fidelity > 0.0 && c.fidelity <= 1.0, "{c:?}");
                    cost += c.fidelity;
                    run.told_at_ask.push(told);
                    run.proposals.push(c);
                }
                None => exhausted = true,
            }
            continue;
        }
        if told == run.proposals.len() {
            break;
        }
        let c = run.proposals[told].clone();
        let rec = match observed_loss(space, &c, seed) {
            Some(l) => record(told as u64, c, TrialState::Complete, l),
            None => record(told as u64, c, TrialState::Failed, f64::NAN),
        };
        let ctx = AskContext {
            space,
            task: Task::Regression,
            metric: Metric::Rmse,
            families,
            history: &run.history,
            elapsed_fraction: 0.0,
            time_left_s: None,
        };
        strategy.tell(&ctx, &rec);
        run.history.push(rec);
    }
    run
}

fn asha(name: &str, seed: u64) -> Box<dyn Strategy> {
    by_name_with(
        name,
        seed,
        &StrategyOptions {
            multi_fidelity: true,
            ..StrategyOptions::default()
        },
    )
    .unwrap()
}

fn loss_of(t: &TrialRecord) -> f64 {
    if t.is_scored() { t.mean } else { f64::INFINITY }
}

fn is_rung(f: f64, r: f64) -> bool {
    (f - r).abs() < 1e-9
}

const RUNGS: [f64; 3] = [1.0 / 9.0, 1.0 / 3.0, 1.0];

#[test]
fn asha_promotes_the_top_third_with_lineage() {
    let space = synthetic();
    let fams = families();
    let mut promotions = [0usize; 2];
    for name in ["random", "bayes", "evolution", "auto"] {
        let mut s = asha(name, 4);
        assert_eq!(s.name(), name);
        let run = simulate(s.as_mut(), &space, &fams, 30.0, WINDOW, 4);
        let mut promoted = BTreeSet::new();
        for (i, c) in run.proposals.iter().enumerate() {
            let rung = RUNGS.iter().position(|r| is_rung(c.fidelity, *r)).unwrap();
            match c.operator.as_str() {
                "default" => assert_eq!(rung, 2, "{name}: defaults run at full fidelity"),
                "promote" => {
                    assert!(rung > 0);
                    promotions[rung - 1] += 1;
                    assert_eq!(c.parents.len(), 1, "{c:?}");
                    let p = c.parents[0];
                    assert!(promoted.insert(p), "{name}: trial {p} promoted twice");
                    assert!((p as usize) < run.told_at_ask[i], "parent {p} not told yet");
                    let parent = &run.history[p as usize];
                    assert_eq!(parent.candidate.family, c.family);
                    assert_eq!(parent.candidate.params, c.params);
                    assert!(is_rung(parent.candidate.fidelity, RUNGS[rung - 1]));
                    // The parent is in the top third of its rung among the trials told then.
                    let peers: Vec<&TrialRecord> = run.history[..run.told_at_ask[i]]
                        .iter()
                        .filter(|t| is_rung(t.candidate.fidelity, RUNGS[rung - 1]))
                        .collect();
                    let better = peers
                        .iter()
                        .filter(|t| loss_of(t) < loss_of(parent))
                        .count();
                    assert!(
                        better < peers.len() / 3,
                        "{name}: trial {p} ranked {better} of {} at rung {}",
                        peers.len(),
                        rung - 1
                    );
                }
                _ => {
                    assert_eq!(
                        rung, 0,
                        "{name}: new configurations start at the lowest rung"
                    );
                    assert!(
                        c.operator == "random"
                            || c.operator == "tpe"
                            || c.operator == "mutate"
                            || c.operator == "crossover"
                            || c.operator == "family_switch"
                            || c.operator == "explore",
                        "{c:?}"
                    );
                }
            }
        }
        // A new configuration is only asked when every trial in the top third of every rung
        // (among the finished trials told by then) was already promoted.
        let mut promoted_before = BTreeSet::new();
        for (i, c) in run.proposals.iter().enumerate() {
            if c.operator == "promote" {
                promoted_before.insert(c.parents[0]);
                continue;
            }
            for (r, &fid) in RUNGS[..2].iter().enumerate() {
                let mut at: Vec<&TrialRecord> = run.history[..run.told_at_ask[i]]
                    .iter()
                    .filter(|t| is_rung(t.candidate.fidelity, fid))
                    .collect();
                at.sort_by(|a, b| {
                    loss_of(a)
                        .total_cmp(&loss_of(b))
                        .then(a.trial_id.cmp(&b.trial_id))
                });
                for t in &at[..at.len() / 3] {
                    assert!(
                        !t.is_scored() || promoted_before.contains(&t.trial_id),
                        "{name}: trial {} in the top third of rung {r} left behind at ask {i}",
                        t.trial_id
                    );
                }
            }
        }
    }
    assert!(
        promotions[0] >= 8 && promotions[1] >= 2,
        "promotions per rung: {promotions:?}"
    );
}

#[test]
fn same_seed_same_proposals_with_multi_fidelity() {
    let space = synthetic();
    let fams = families();
    for name in ["random", "evolution", "bayes", "auto"] {
        let run =
            |seed| simulate(asha(name, seed).as_mut(), &space, &fams, 12.0, WINDOW, 1).proposals;
        let a = run(7);
        assert!(a.len() > 30, "{name}: {}", a.len());
        assert_eq!(a, run(7), "{name} is not deterministic");
        assert_ne!(a, run(8), "{name} ignores its seed");
    }
}

#[test]
fn pending_asks_are_never_promoted_twice() {
    let space = synthetic();
    let fams = families();
    let ctx_for = |h: &[TrialRecord]| -> Vec<TrialRecord> { h.to_vec() };
    let mut s = SuccessiveHalving::new(by_name("random", 3).unwrap(), 1.0 / 9.0, 3.0);
    assert_eq!(s.rungs().len(), 3);
    let mut history: Vec<TrialRecord> = Vec::new();
    // 12 asks before any tell: nothing can be promoted yet.
    let mut asked = Vec::new();
    for _ in 0..12 {
        let h = ctx_for(&history);
        let ctx = AskContext {
            space: &space,
            task: Task::Regression,
            metric: Metric::Rmse,
            families: &fams,
            history: &h,
            elapsed_fraction: 0.0,
            time_left_s: None,
        };
        asked.push(s.ask(&ctx).unwrap());
    }
    assert!(asked.iter().all(|c| c.operator != "promote"));
    // Tell them all, then ask a burst without telling: each of the top floor(10/3) = 3 low-rung
    // trials is promoted exactly once, then the inner strategy is asked again.
    for c in asked {
        let l = observed_loss(&space, &c, 0).unwrap_or(f64::NAN);
        let state = if l.is_finite() {
            TrialState::Complete
        } else {
            TrialState::Failed
        };
        let rec = record(history.len() as u64, c, state, l);
        let ctx = AskContext {
            space: &space,
            task: Task::Regression,
            metric: Metric::Rmse,
            families: &fams,
            history: &history,
            elapsed_fraction: 0.0,
            time_left_s: None,
        };
        s.tell(&ctx, &rec);
        history.push(rec);
    }
    let low: Vec<&TrialRecord> = history
        .iter()
        .filter(|t| is_rung(t.candidate.fidelity, RUNGS[0]))
        .collect();
    assert_eq!(
        low.len(),
        10,
        "2 defaults at full fidelity, 10 at the lowest rung"
    );
    let mut ranked = low.clone();
    ranked.sort_by(|a, b| loss_of(a).total_cmp(&loss_of(b)));
    let top: BTreeSet<u64> = ranked[..3].iter().map(|t| t.trial_id).collect();
    let mut burst = Vec::new();
    for _ in 0..8 {
        let ctx = AskContext {
            space: &space,
            task: Task::Regression,
            metric: Metric::Rmse,
            families: &fams,
            history: &history,
            elapsed_fraction: 0.0,
            time_left_s: None,
        };
        burst.push(s.ask(&ctx).unwrap());
    }
    let promoted: Vec<u64> = burst
        .iter()
        .filter(|c| c.operator == "promote")
        .map(|c| c.parents[0])
        .collect();
    assert_eq!(promoted.len(), 3, "{burst:?}");
    assert_eq!(promoted.iter().copied().collect::<BTreeSet<_>>(), top);
    // Best first, and all of them before any new configuration.
    assert_eq!(promoted[0], ranked[0].trial_id);
    assert!(
        burst[..3]
            .iter()
            .all(|c| c.operator == "promote" && is_rung(c.fidelity, RUNGS[1]))
    );
    assert!(
        burst[3..]
            .iter()
            .all(|c| c.operator == "random" && is_rung(c.fidelity, RUNGS[0]))
    );

    // Resume: a fresh wrapper told the same history plus the (told) promotions does not promote
    // those parents again.
    let mut full = history.clone();
    for c in &burst[..3] {
        let l = observed_loss(&space, c, 0).unwrap();
        full.push(record(
            full.len() as u64,
            c.clone(),
            TrialState::Complete,
            l,
        ));
    }
    let mut fresh = SuccessiveHalving::new(by_name("random", 3).unwrap(), 1.0 / 9.0, 3.0);
    for (i, t) in full.iter().enumerate() {
        let ctx = AskContext {
            space: &space,
            task: Task::Regression,
            metric: Metric::Rmse,
            families: &fams,
            history: &full[..i],
            elapsed_fraction: 0.0,
            time_left_s: None,
        };
        fresh.tell(&ctx, t);
    }
    let ctx = AskContext {
        space: &space,
        task: Task::Regression,
        metric: Metric::Rmse,
        families: &fams,
        history: &full,
        elapsed_fraction: 0.0,
        time_left_s: None,
    };
    let next = fresh.ask(&ctx).unwrap();
    assert!(
        next.operator != "promote" || !top.contains(&next.parents[0]),
        "re-promoted after resume: {next:?}"
    );
}

/// Mean best full-fidelity loss over seeds at a total cost (sum of fidelities).
fn mean_best(
    make: &dyn Fn(u64) -> Box<dyn Strategy>,
    cost: f64,
    seeds: std::ops::Range<u64>,
) -> f64 {
    let space = synthetic();
    let fams = families();
    let k = (seeds.end - seeds.start) as f64;
    seeds
        .map(|seed| {
            let run = simulate(make(seed).as_mut(), &space, &fams, cost, WINDOW, seed);
            run.history
                .iter()
                .filter(|t| t.candidate.fidelity >= 0.999)
                .map(loss_of)
                .fold(f64::INFINITY, f64::min)
        })
        .sum::<f64>()
        / k
}

#[test]
fn multi_fidelity_beats_the_inner_strategy_at_equal_cost() {
    let cost = 40.0;
    let seeds = 0..20;
    let mut lines = Vec::new();
    for name in ["random", "evolution", "bayes"] {
        let plain = mean_best(&|s| by_name(name, s).unwrap(), cost, seeds.clone());
        let mf = mean_best(&|s| asha(name, s), cost, seeds.clone());
        let (other, label) = if name == "evolution" {
            (InnerFeed::Unchanged, "unchanged")
        } else {
            (InnerFeed::Relabeled, "relabeled")
        };
        let alt = mean_best(
            &|s| {
                Box::new(
                    SuccessiveHalving::new(by_name(name, s).unwrap(), 1.0 / 9.0, 3.0)
                        .with_feed(other),
                )
            },
            cost,
            seeds.clone(),
        );
        lines.push(format!(
            "{name}: plain {plain:.4}, asha {mf:.4}, asha with {label} feed {alt:.4}"
        ));
        assert!(
            mf < plain,
            "{name}: asha {mf} vs plain {plain} at cost {cost}"
        );
    }
    println!(
        "mean best full-fidelity loss over 20 seeds at total cost {cost}:\n{}",
        lines.join("\n")
    );
}

fn good_params(space: &SearchSpace, x: f64) -> Params {
    let mut p = space
        .family("good")
        .unwrap()
        .default_params(Task::Regression);
    p.insert("x".into(), ParamValue::Float(x));
    p
}

#[test]
fn warm_start_then_portfolio_then_strategy() {
    let space = synthetic();
    let fams = families();
    let mut warm = Candidate::new("good", good_params(&space, 0.71), "mutate");
    warm.parents = vec![3, 4];
    let mut broken = Params::new();
    broken.insert("x".into(), ParamValue::Str("oops".into()));
    let cheap_default = space
        .family("cheap")
        .unwrap()
        .default_params(Task::Regression);
    let opts = StrategyOptions {
        warm_start: vec![
            warm.clone(),
            Candidate::new("not_allowed", Params::new(), "x"),
            Candidate::new("good", broken, "x"),
        ],
        portfolio: vec![
            Candidate::new("good", good_params(&space, 0.2), "portfolio"),
            // Repeats the warm start: skipped.
            Candidate::new("good", good_params(&space, 0.71), "portfolio"),
            // The default of `cheap`: proposed here, so the strategy's default is skipped later.
            Candidate::new("cheap", cheap_default.clone(), "portfolio"),
        ],
        ..StrategyOptions::default()
    };
    for multi_fidelity in [false, true] {
        let opts = StrategyOptions {
            multi_fidelity,
            ..opts.clone()
        };
        let mut s = by_name_with("auto", 1, &opts).unwrap();
        assert_eq!(s.name(), "auto");
        let run = simulate(s.as_mut(), &space, &fams, 12.0, WINDOW, 1);
        let ops: Vec<&str> = run.proposals.iter().map(|c| c.operator.as_str()).collect();
        assert_eq!(
            &ops[..5],
            [
                "warm_start",
                "warm_start",
                "portfolio",
                "portfolio",
                "default"
            ]
        );
        assert_eq!(run.proposals[0].params, warm.params);
        assert_eq!(run.proposals[0].parents, vec![3, 4]);
        assert!(run.proposals[1].parents.is_empty());
        assert!(
            space
                .family("good")
                .unwrap()
                .is_valid(Task::Regression, &run.proposals[1].params)
        );
        assert_eq!(run.proposals[3].params, cheap_default);
        assert_eq!(run.proposals[4].family, "good");
        assert!(run.proposals[..5].iter().all(|c| c.fidelity == 1.0));
        let keys: BTreeSet<(String, u64)> = run
            .proposals
            .iter()
            .map(|c| (candidate_key(&c.family, &c.params), c.fidelity.to_bits()))
            .collect();
        assert_eq!(
            keys.len(),
            run.proposals.len(),
            "a configuration was repeated"
        );
        if multi_fidelity {
            assert!(ops.contains(&"promote"));
        }
    }
    // Other strategies take the warm start but not the portfolio.
    let mut s = by_name_with("random", 1, &opts).unwrap();
    let run = simulate(s.as_mut(), &space, &fams, 8.0, WINDOW, 1);
    let ops: Vec<&str> = run.proposals.iter().map(|c| c.operator.as_str()).collect();
    assert_eq!(
        &ops[..4],
        ["warm_start", "warm_start", "default", "default"]
    );
    assert!(!ops.contains(&"portfolio"));
    // Resume: a strategy told the earlier trials does not propose the warm start again.
    let mut s = by_name_with("random", 1, &opts).unwrap();
    for (i, t) in run.history.iter().enumerate() {
        let ctx = AskContext {
            space: &space,
            task: Task::Regression,
            metric: Metric::Rmse,
            families: &fams,
            history: &run.history[..i],
            elapsed_fraction: 0.0,
            time_left_s: None,
        };
        s.tell(&ctx, t);
    }
    let ctx = AskContext {
        space: &space,
        task: Task::Regression,
        metric: Metric::Rmse,
        families: &fams,
        history: &run.history,
        elapsed_fraction: 0.0,
        time_left_s: None,
    };
    let next = s.ask(&ctx).unwrap();
    assert_ne!(next.operator, "warm_start");
    // Default options give exactly the plain strategies.
    let a = simulate(
        by_name("bayes", 5).unwrap().as_mut(),
        &space,
        &fams,
        15.0,
        WINDOW,
        5,
    );
    let b = simulate(
        by_name_with("bayes", 5, &StrategyOptions::default())
            .unwrap()
            .as_mut(),
        &space,
        &fams,
        15.0,
        WINDOW,
        5,
    );
    assert_eq!(a.proposals, b.proposals);
    assert!(a.proposals.iter().all(|c| c.fidelity == 1.0));
    assert!(by_name_with("grid", 1, &opts).is_none());
}

const PORTFOLIO: &str = r#"
version = 1
description = "test portfolio"

[[config]]
family = "gbdt"
tasks = ["binary", "multiclass"]
params = { learning_rate = 0.05, max_leaves = 31, "odd key" = "x", bagging = true }

[[config]]
family = "logistic"
params = { C = 1.0 }

[[config]]
family = "ridge"
tasks = ["regression"]
"#;

#[test]
fn portfolio_file_round_trips_and_filters_by_task() {
    let configs = load_portfolio(PORTFOLIO, "portfolio.toml").unwrap();
    assert_eq!(configs.len(), 3);
    let (gbdt, tasks) = &configs[0];
    assert_eq!(gbdt.family, "gbdt");
    assert_eq!(gbdt.operator, "portfolio");
    assert_eq!(gbdt.fidelity, 1.0);
    assert_eq!(tasks, &[Task::Binary, Task::Multiclass]);
    let expected: BTreeMap<String, ParamValue> = [
        ("learning_rate", ParamValue::Float(0.05)),
        ("max_leaves", ParamValue::Int(31)),
        ("odd key", ParamValue::Str("x".into())),
        ("bagging", ParamValue::Bool(true)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(gbdt.params, expected);
    assert!(configs[1].1.is_empty());
    assert!(configs[2].0.params.is_empty());

    let fam = |task| -> Vec<String> {
        portfolio_for(&configs, task)
            .into_iter()
            .map(|c| c.family)
            .collect()
    };
    assert_eq!(fam(Task::Binary), ["gbdt", "logistic"]);
    assert_eq!(fam(Task::Regression), ["logistic", "ridge"]);

    let text = portfolio_to_toml(&configs, "round \"trip\"\nsecond line");
    let again = load_portfolio(&text, "written.toml").unwrap();
    assert_eq!(again, configs, "{text}");
    assert!(text.contains("params = { C = 1.0 }"), "{text}");
    assert_eq!(
        load_portfolio("version = 1", "empty.toml").unwrap(),
        Vec::new()
    );
}

#[test]
fn portfolio_errors_name_file_entry_and_key() {
    let err = |text: &str| load_portfolio(text, "p.toml").unwrap_err();
    let entry = |e: PortfolioError| match e {
        PortfolioError::Entry {
            origin, index, key, ..
        } => (origin, index, key),
        other => panic!("not an entry error: {other}"),
    };
    let two = |second: &str| {
        format!("version = 1\n[[config]]\nfamily = \"gbdt\"\n[[config]]\n{second}\n")
    };
    assert_eq!(
        entry(err(&two("family = \"gbdt\"\nparams = { lr = [1, 2] }"))),
        ("p.toml".into(), 1, "params.lr".into())
    );
    assert_eq!(entry(err(&two("params = { lr = 0.1 }"))).2, "family");
    assert_eq!(entry(err(&two("family = 3"))).2, "family");
    assert_eq!(
        entry(err(&two("family = \"x\"\ntasks = [\"ranking\"]"))).2,
        "tasks"
    );
    assert_eq!(
        entry(err(&two("family = \"x\"\ntasks = \"binary\""))).2,
        "tasks"
    );
    assert_eq!(entry(err(&two("family = \"x\"\nparams = 3"))).2, "params");
    assert_eq!(entry(err(&two("family = \"x\"\nparam = {}"))).2, "param");
    let msg = err(&two("family = \"x\"\nparams = { d = { a = 1 } }")).to_string();
    assert!(
        msg.contains("p.toml") && msg.contains("entry 1") && msg.contains("params.d"),
        "{msg}"
    );

    assert!(matches!(err("version = 2"), PortfolioError::Header { key, .. } if key == "version"));
    assert!(
        matches!(err("description = \"x\""), PortfolioError::Header { key, .. } if key == "version")
    );
    assert!(
        matches!(err("version = 1\nconfigs = []"), PortfolioError::Header { key, .. } if key == "configs")
    );
    assert!(
        matches!(err("version = 1\nconfig = 3"), PortfolioError::Header { key, .. } if key == "config")
    );
    let msg = err("version = 1\n[[config]\n").to_string();
    assert!(
        msg.starts_with("p.toml: not valid TOML") && msg.contains("line 2"),
        "{msg}"
    );
}

const FORESTS: &str = r#"
version = 1
name = "forests"
[families.random_forest]
[families.random_forest.params]
n_trees = { type = "int", low = 10, high = 500, default = 100 }
max_features = { type = "float", low = 0.05, high = 1.0, default = 0.5 }
"#;

fn forest(n_trees: i64, max_features: f64) -> Candidate {
    let mut p = Params::new();
    p.insert("n_trees".into(), ParamValue::Int(n_trees));
    p.insert("max_features".into(), ParamValue::Float(max_features));
    Candidate::new("random_forest", p, "portfolio")
}

#[test]
fn a_given_forest_predicted_to_take_too_much_of_the_time_left_is_skipped() {
    let space = SearchSpace::from_toml_str(FORESTS, "forests.toml").unwrap();
    let fams = vec![FamilyInfo::new("random_forest", 3.0)];
    // Told: a 100-tree forest at max_features 0.5 took 5 s (0.1 s per tree x feature share).
    let mut told = record(0, forest(100, 0.5), TrialState::Complete, 1.0);
    told.fit_time_s = 5.0;
    let history = vec![told.clone()];
    let opts = StrategyOptions {
        portfolio: vec![
            // predicted 0.1 * 400 * 1.0 = 40 s
            forest(400, 1.0),
            // predicted 0.1 * 50 * 0.4 = 2 s
            forest(50, 0.4),
        ],
        ..StrategyOptions::default()
    };
    let ctx = |time_left_s| AskContext {
        space: &space,
        task: Task::Regression,
        metric: Metric::Rmse,
        families: &fams,
        history: &history,
        elapsed_fraction: 0.5,
        time_left_s,
    };
    let first_given = |time_left_s: Option<f64>| {
        let mut s = by_name_with("auto", 1, &opts).unwrap();
        s.tell(&ctx(time_left_s), &told);
        s.ask(&ctx(time_left_s)).unwrap()
    };
    // 40 s is more than a quarter of 100 s left: skipped, the cheap one comes first.
    let c = first_given(Some(100.0));
    assert_eq!(c.params, forest(50, 0.4).params);
    assert_eq!(c.operator, "portfolio");
    // With 200 s left (40 <= 50), or without a time budget, the file order holds.
    for left in [Some(200.0), None] {
        assert_eq!(
            first_given(left).params,
            forest(400, 1.0).params,
            "{left:?}"
        );
    }
    // Without a told trial of the family there is no prediction: nothing is skipped.
    let mut s = by_name_with("auto", 1, &opts).unwrap();
    let empty = AskContext {
        history: &[],
        ..ctx(Some(1.0))
    };
    assert_eq!(s.ask(&empty).unwrap().params, forest(400, 1.0).params);
}
