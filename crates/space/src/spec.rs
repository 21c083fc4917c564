//! The search-space data types (distributions, parameters, families, spaces) and the operations
//! strategies need on them: defaults, sampling, mutation, crossover and the [0,1]^d encoding.

use automl_core::{ParamValue, Params, Rng, Task};
use serde::Serialize;

/// Standard deviation of a numeric mutation step in the [0,1] encoding.
pub const MUTATION_SD: f64 = 0.15;

/// The distribution of one hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Distribution {
    /// A real number in `[low, high]`, sampled log-uniformly when `log`.
    Float {
        /// Inclusive lower bound.
        low: f64,
        /// Inclusive upper bound.
        high: f64,
        /// Log scale (low > 0).
        log: bool,
    },
    /// An integer in `[low, high]`, sampled log-uniformly when `log`.
    Int {
        /// Inclusive lower bound.
        low: i64,
        /// Inclusive upper bound.
        high: i64,
        /// Log scale (low > 0).
        log: bool,
    },
    /// One of a list of strings.
    Categorical {
        /// The choices, in file order.
        choices: Vec<String>,
    },
    /// A constant.
    Fixed(ParamValue),
}

/// Canonical string of a value, as used by `when` conditions and duplicate detection.
pub fn value_key(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Str(s) => s.clone(),
    }
}

impl Distribution {
    /// True for [`Distribution::Fixed`].
    pub fn is_fixed(&self) -> bool {
        matches!(self, Distribution::Fixed(_))
    }

    /// Number of choices of a categorical, `None` otherwise.
    pub fn n_choices(&self) -> Option<usize> {
        match self {
            Distribution::Categorical { choices } => Some(choices.len()),
            _ => None,
        }
    }

    /// Whether `v` is a valid value of this distribution (right type, inside the range).
    pub fn contains(&self, v: &ParamValue) -> bool {
        match (self, v) {
            (Distribution::Float { low, high, .. }, ParamValue::Float(x)) => {
                x.is_finite() && *x >= *low && *x <= *high
            }
            (Distribution::Int { low, high, .. }, ParamValue::Int(x)) => *x >= *low && *x <= *high,
            (Distribution::Categorical { choices }, v) => {
                matches!(v, ParamValue::Str(_) | ParamValue::Bool(_))
                    && choices.contains(&value_key(v))
            }
            (Distribution::Fixed(f), v) => f == v,
            _ => false,
        }
    }

    /// Position of `v` in `[0,1]` (`None` for fixed parameters or values of the wrong type).
    /// Integers map to the centre of their bin so that [`Distribution::from_unit`] inverts exactly.
    pub fn to_unit(&self, v: &ParamValue) -> Option<f64> {
        let u = match self {
            Distribution::Float { low, high, log } => {
                let x = v.as_f64()?;
                if !x.is_finite() {
                    return None;
                }
                if *log {
                    if x <= 0.0 {
                        0.0
                    } else {
                        (x.ln() - low.ln()) / (high.ln() - low.ln())
                    }
                } else {
                    (x - low) / (high - low)
                }
            }
            Distribution::Int { low, high, log } => {
                let x = v.as_i64().or_else(|| {
                    v.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.round() as i64)
                })?;
                let x = x.clamp(*low, *high) as f64;
                let (lo, hi) = (*low as f64, *high as f64);
                if *log {
                    let (a, b) = ((lo - 0.5).ln(), (hi + 0.5).ln());
                    (x.ln() - a) / (b - a)
                } else {
                    (x - lo + 0.5) / (hi - lo + 1.0)
                }
            }
            Distribution::Categorical { choices } => {
                let key = value_key(v);
                let i = choices.iter().position(|c| *c == key)?;
                (i as f64 + 0.5) / choices.len() as f64
            }
            Distribution::Fixed(_) => return None,
        };
        Some(u.clamp(0.0, 1.0))
    }

    /// The value at position `u` of `[0,1]` (clamped): linear or log scale for numbers,
    /// rounded for integers, equal-width bins for categoricals.
    pub fn from_unit(&self, u: f64) -> ParamValue {
        let u = if u.is_finite() {
            u.clamp(0.0, 1.0)
        } else {
            0.5
        };
        match self {
            Distribution::Float { low, high, log } => {
                let x = if *log {
                    (low.ln() + u * (high.ln() - low.ln())).exp()
                } else {
                    low + u * (high - low)
                };
                ParamValue::Float(x.clamp(*low, *high))
            }
            Distribution::Int { low, high, log } => {
                let (lo, hi) = (*low as f64, *high as f64);
                let x = if *log {
                    let (a, b) = ((lo - 0.5).ln(), (hi + 0.5).ln());
                    (a + u * (b - a)).exp().round()
                } else {
                    (lo + (u * (hi - lo + 1.0)).floor()).min(hi)
                };
                ParamValue::Int((x as i64).clamp(*low, *high))
            }
            Distribution::Categorical { choices } => {
                let k = choices.len();
                let i = ((u * k as f64).floor() as usize).min(k.saturating_sub(1));
                ParamValue::Str(choices[i].clone())
            }
            Distribution::Fixed(v) => v.clone(),
        }
    }
}

/// One hyperparameter of a family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    /// Stable parameter name.
    pub name: String,
    /// Its distribution.
    pub dist: Distribution,
    /// The value tried by the cheap-first start (the fixed value for fixed parameters).
    pub default: ParamValue,
    /// Conditions: the parameter is active only when every named parameter of the same family is
    /// active and has one of the listed values (canonical strings, see [`value_key`]).
    pub when: Vec<(String, Vec<String>)>,
    /// Tasks the parameter applies to (`None` = all).
    pub tasks: Option<Vec<Task>>,
}

impl ParamSpec {
    /// Whether the parameter applies to `task`.
    pub fn applies_to(&self, task: Task) -> bool {
        self.tasks.as_ref().is_none_or(|t| t.contains(&task))
    }

    /// Whether the `when` conditions hold for `values` (which hold only active parameters).
    fn conditions_hold(&self, values: &Params) -> bool {
        self.when.iter().all(|(other, allowed)| {
            values
                .get(other)
                .is_some_and(|v| allowed.contains(&value_key(v)))
        })
    }
}

/// The hyperparameters of one model family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilySpace {
    /// Stable model-family name.
    pub name: String,
    /// Tasks the family is searched for (`None` = every task its model supports).
    pub tasks: Option<Vec<Task>>,
    /// Parameters in file order.
    pub params: Vec<ParamSpec>,
}

/// Order in which parameters must be assigned so that every `when` target comes first
/// (stable with respect to file order; conditions are acyclic, checked at load).
pub(crate) fn dependency_order(params: &[ParamSpec]) -> Result<Vec<usize>, Vec<String>> {
    let mut done = vec![false; params.len()];
    let mut order = Vec::with_capacity(params.len());
    while order.len() < params.len() {
        let before = order.len();
        for (i, p) in params.iter().enumerate() {
            if done[i] {
                continue;
            }
            let ready = p.when.iter().all(|(other, _)| {
                params
                    .iter()
                    .position(|q| &q.name == other)
                    .is_none_or(|j| done[j])
            });
            if ready {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            return Err(params
                .iter()
                .enumerate()
                .filter(|(i, _)| !done[*i])
                .map(|(_, p)| p.name.clone())
                .collect());
        }
    }
    Ok(order)
}

impl FamilySpace {
    /// Whether the family is searched for `task`.
    pub fn applies_to(&self, task: Task) -> bool {
        self.tasks.as_ref().is_none_or(|t| t.contains(&task))
    }

    /// A parameter by name.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Assign parameters in dependency order: each parameter that applies to the task and whose
    /// conditions hold on the values chosen so far gets `pick(spec)` (fixed ones their value).
    fn build(
        &self,
        task: Task,
        mut pick: impl FnMut(usize, &ParamSpec, &Params) -> ParamValue,
    ) -> Params {
        let order =
            dependency_order(&self.params).unwrap_or_else(|_| (0..self.params.len()).collect());
        let mut values = Params::new();
        for i in order {
            let p = &self.params[i];
            if !p.applies_to(task) || !p.conditions_hold(&values) {
                continue;
            }
            let v = match &p.dist {
                Distribution::Fixed(v) => v.clone(),
                _ => pick(i, p, &values),
            };
            values.insert(p.name.clone(), v);
        }
        values
    }

    /// The parameters active for `task` given the values in `params` (file order): those that
    /// apply to the task and whose `when` conditions hold (on active parameters only).
    pub fn active_params(&self, task: Task, params: &Params) -> Vec<&ParamSpec> {
        let active = self.build(task, |_, p, _| {
            params
                .get(&p.name)
                .cloned()
                .unwrap_or_else(|| p.default.clone())
        });
        self.params
            .iter()
            .filter(|p| active.contains_key(&p.name))
            .collect()
    }

    /// The default configuration for `task` (defaults of the active parameters).
    pub fn default_params(&self, task: Task) -> Params {
        self.build(task, |_, p, _| p.default.clone())
    }

    /// A uniform random configuration for `task` (log-uniform where `log`), conditions respected.
    pub fn sample(&self, task: Task, rng: &mut Rng) -> Params {
        self.build(task, |_, p, _| p.dist.from_unit(rng.f64()))
    }

    /// The non-fixed parameters that apply to `task`, in file order: the dimensions of
    /// [`FamilySpace::encode`] (whether or not their conditions hold).
    pub fn dim_specs(&self, task: Task) -> Vec<&ParamSpec> {
        self.params
            .iter()
            .filter(|p| p.applies_to(task) && !p.dist.is_fixed())
            .collect()
    }

    /// Number of dimensions of the encoding for `task`.
    pub fn dims(&self, task: Task) -> usize {
        self.dim_specs(task).len()
    }

    /// Whether `params` is exactly a consistent configuration for `task`: every active parameter
    /// present with a valid value, nothing else present.
    pub fn is_valid(&self, task: Task, params: &Params) -> bool {
        let active = self.active_params(task, params);
        active.len() == params.len()
            && active
                .iter()
                .all(|p| params.get(&p.name).is_some_and(|v| p.dist.contains(v)))
    }

    /// Encode a configuration as a point of `[0,1]^dims(task)`; absent (inactive) or invalid
    /// values encode as 0.5.
    pub fn encode(&self, task: Task, params: &Params) -> Vec<f64> {
        self.dim_specs(task)
            .iter()
            .map(|p| {
                params
                    .get(&p.name)
                    .and_then(|v| p.dist.to_unit(v))
                    .unwrap_or(0.5)
            })
            .collect()
    }

    /// Decode a point of `[0,1]^dims(task)` (values clamped; missing coordinates read as 0.5)
    /// into a configuration; inactive conditional parameters are dropped.
    pub fn decode(&self, task: Task, u: &[f64]) -> Params {
        let dim_of = self.dim_index(task);
        self.build(task, |i, p, _| {
            let x = dim_of[i].and_then(|d| u.get(d).copied()).unwrap_or(0.5);
            p.dist.from_unit(x)
        })
    }

    /// For each parameter index, its dimension in the encoding for `task`.
    fn dim_index(&self, task: Task) -> Vec<Option<usize>> {
        let mut next = 0;
        self.params
            .iter()
            .map(|p| {
                if p.applies_to(task) && !p.dist.is_fixed() {
                    next += 1;
                    Some(next - 1)
                } else {
                    None
                }
            })
            .collect()
    }

    /// A consistent copy of `params`: valid values kept, missing or invalid active values sampled.
    pub fn repair(&self, task: Task, params: &Params, rng: &mut Rng) -> Params {
        self.build(task, |_, p, _| match params.get(&p.name) {
            Some(v) if p.dist.contains(v) => v.clone(),
            _ => p.dist.from_unit(rng.f64()),
        })
    }

    /// Change `n_changes` (at least 1) active parameters of `params`: numbers move by a gaussian
    /// step (sd [`MUTATION_SD`]) in the [0,1] encoding, reflected at the bounds; categoricals
    /// switch to another choice. Parameters that become active are sampled, ones that become
    /// inactive are dropped. The result differs from the (repaired) input whenever the family
    /// has any non-fixed parameter with more than one value.
    pub fn mutate(&self, task: Task, params: &Params, rng: &mut Rng, n_changes: usize) -> Params {
        let base = self.repair(task, params, rng);
        let candidates: Vec<usize> = self
            .params
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.dist.is_fixed() && base.contains_key(&p.name))
            .map(|(i, _)| i)
            .collect();
        if candidates.is_empty() {
            return base;
        }
        let mut child = base.clone();
        for attempt in 0..16 {
            let k = n_changes.max(1).min(candidates.len());
            let chosen: Vec<usize> = rng
                .sample_indices(candidates.len(), k)
                .into_iter()
                .map(|j| candidates[j])
                .collect();
            // Later attempts take bigger steps so that narrow integer ranges still move.
            let sd = MUTATION_SD * (1.0 + attempt as f64 * 0.5);
            let mut new_values: Vec<(usize, ParamValue)> = Vec::new();
            for &i in &chosen {
                let p = &self.params[i];
                let cur = &base[&p.name];
                let v = match &p.dist {
                    Distribution::Categorical { choices } if choices.len() > 1 => {
                        let k = choices.len();
                        let at = choices
                            .iter()
                            .position(|c| *c == value_key(cur))
                            .unwrap_or(0);
                        let j = (at + 1 + rng.below(k - 1)) % k;
                        ParamValue::Str(choices[j].clone())
                    }
                    dist => {
                        let u = dist.to_unit(cur).unwrap_or(0.5);
                        dist.from_unit(reflect(u + sd * rng.normal()))
                    }
                };
                new_values.push((i, v));
            }
            child = self.build(task, |i, p, _| {
                if let Some((_, v)) = new_values.iter().find(|(j, _)| *j == i) {
                    v.clone()
                } else if let Some(v) = base.get(&p.name) {
                    v.clone()
                } else {
                    p.dist.from_unit(rng.f64())
                }
            });
            if child != base {
                break;
            }
        }
        child
    }

    /// Uniform crossover: each active parameter is taken from `a` or `b` at random (from the
    /// other parent when the chosen one lacks a valid value, sampled when neither has one).
    pub fn crossover(&self, task: Task, a: &Params, b: &Params, rng: &mut Rng) -> Params {
        self.build(task, |_, p, _| {
            let (first, second) = if rng.bernoulli(0.5) { (a, b) } else { (b, a) };
            let valid = |m: &Params| m.get(&p.name).filter(|v| p.dist.contains(v)).cloned();
            valid(first)
                .or_else(|| valid(second))
                .unwrap_or_else(|| p.dist.from_unit(rng.f64()))
        })
    }
}

/// Reflect `x` into `[0,1]`.
fn reflect(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.5;
    }
    let m = x.rem_euclid(2.0);
    if m > 1.0 { 2.0 - m } else { m }
}

/// A whole search space: a list of model families with their hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchSpace {
    /// Space name (`name` key, or the file stem).
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// Format version (1).
    pub version: u32,
    /// Families in file order.
    pub families: Vec<FamilySpace>,
    /// The TOML text the space was loaded from (re-emitted for restricted spaces).
    pub source: String,
}

impl SearchSpace {
    /// A family by name.
    pub fn family(&self, name: &str) -> Option<&FamilySpace> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The families searched for `task`, in file order.
    pub fn families_for(&self, task: Task) -> Vec<&FamilySpace> {
        self.families
            .iter()
            .filter(|f| f.applies_to(task))
            .collect()
    }

    /// Family names, in file order.
    pub fn family_names(&self) -> Vec<&str> {
        self.families.iter().map(|f| f.name.as_str()).collect()
    }

    /// The subset of families named in `families` (file order kept; unknown names are ignored:
    /// check them with [`SearchSpace::family`] first). `source` is re-emitted for the subset.
    pub fn restrict(&self, families: &[&str]) -> SearchSpace {
        let mut out = SearchSpace {
            name: self.name.clone(),
            description: self.description.clone(),
            version: self.version,
            families: self
                .families
                .iter()
                .filter(|f| families.contains(&f.name.as_str()))
                .cloned()
                .collect(),
            source: String::new(),
        };
        out.source = out.to_toml();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_stays_in_unit_interval() {
        for x in [-2.3, -0.2, 0.0, 0.4, 1.0, 1.3, 2.7, 5.5] {
            let r = reflect(x);
            assert!((0.0..=1.0).contains(&r), "{x} -> {r}");
        }
        assert!((reflect(1.2) - 0.8).abs() < 1e-12);
        assert!((reflect(-0.3) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn int_bins_invert_exactly() {
        for dist in [
            Distribution::Int {
                low: 1,
                high: 50,
                log: true,
            },
            Distribution::Int {
                low: -3,
                high: 7,
                log: false,
            },
        ] {
            let (lo, hi) = match dist {
                Distribution::Int { low, high, .. } => (low, high),
                _ => unreachable!(),
            };
            for x in lo..=hi {
                let u = dist.to_unit(&ParamValue::Int(x)).unwrap();
                assert_eq!(dist.from_unit(u), ParamValue::Int(x));
            }
            assert_eq!(dist.from_unit(0.0), ParamValue::Int(lo));
            assert_eq!(dist.from_unit(1.0), ParamValue::Int(hi));
        }
    }
}
