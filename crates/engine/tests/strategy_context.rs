//! What a strategy is told about the budget: under a time budget every ask carries the search
//! seconds left (the rules that pass over costly given candidates, `search::WarmStart`'s forest
//! rule and families far behind, read it); under a trial budget alone none, so nothing the
//! strategy does depends on the clock.

mod common;

use automl_core::{Candidate, TrialRecord};
use automl_engine::StudyBuilder;
use automl_search::{AskContext, Strategy, by_name};
use automl_store::{MemoryStore, StoreRead};
use std::sync::{Arc, Mutex};

/// Random search that records the `time_left_s` of every ask.
struct Recording {
    inner: Box<dyn Strategy>,
    seen: Arc<Mutex<Vec<Option<f64>>>>,
}

impl Strategy for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        self.seen.lock().unwrap().push(ctx.time_left_s);
        self.inner.ask(ctx)
    }
    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord) {
        self.inner.tell(ctx, trial);
    }
}

fn asks(time_budget: Option<f64>) -> Vec<Option<f64>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let strategy = Recording {
        inner: by_name("random", common::SEED).unwrap(),
        seen: seen.clone(),
    };
    let store = MemoryStore::new();
    let mut b = StudyBuilder::new(common::churn())
        .custom_strategy(Box::new(strategy))
        .max_trials(3)
        .jobs(1)
        .seed(common::SEED);
    if let Some(t) = time_budget {
        b = b.time_budget(t);
    }
    b.create(&store).unwrap().run(&mut |_| {}).unwrap();
    let v = seen.lock().unwrap().clone();
    assert!(v.len() >= 3, "{v:?}");
    v
}

#[test]
fn asks_carry_the_seconds_left_only_under_a_time_budget() {
    for left in asks(Some(120.0)) {
        let left = left.expect("a time budget gives every ask the seconds left");
        assert!(left > 0.0 && left <= 120.0, "{left}");
    }
    assert!(asks(None).iter().all(Option::is_none));
}

/// The first trials `auto` runs on churn with the shipped portfolio: family and operator.
fn auto_first(time_budget: Option<f64>) -> Vec<(String, String)> {
    let store = MemoryStore::new();
    let mut b = StudyBuilder::new(common::churn())
        .max_trials(3)
        .jobs(1)
        .ensemble(false)
        .seed(common::SEED);
    if let Some(t) = time_budget {
        b = b.time_budget(t);
    }
    let study = b.create(&store).unwrap();
    let id = study.id();
    study.run(&mut |_| {}).unwrap();
    store
        .trials(id)
        .unwrap()
        .into_iter()
        .map(|t| (t.candidate.family, t.candidate.operator))
        .collect()
}

/// docs/user-guide.md: under a time budget `auto` tries the GBDT default first, then the
/// portfolio; under a trial budget alone the portfolio comes first (its score matrix must hold
/// exactly its configurations).
#[test]
fn auto_leads_with_the_gbdt_default_only_under_a_time_budget() {
    let timed = auto_first(Some(120.0));
    assert_eq!(
        timed[0],
        ("gbdt".to_string(), "default".to_string()),
        "{timed:?}"
    );
    assert_eq!(timed[1].1, "portfolio", "{timed:?}");
    let counted = auto_first(None);
    assert!(
        counted.iter().all(|(_, op)| op == "portfolio"),
        "{counted:?}"
    );
}
