//! Loading and validating search-space TOML files (format documented at the top of
//! `search-spaces/default.toml`). Every error names the file, the key and the bad value.

use crate::error::SpaceError;
use crate::spec::{Distribution, FamilySpace, ParamSpec, SearchSpace, dependency_order, value_key};
use automl_core::{ParamValue, Task};
use toml::{Table, Value};

const TOP_KEYS: &[&str] = &["version", "name", "description", "families"];
const FAMILY_KEYS: &[&str] = &["tasks", "params"];
const NUMERIC_KEYS: &[&str] = &["type", "low", "high", "log", "default", "when", "tasks"];
const CATEGORICAL_KEYS: &[&str] = &["type", "choices", "default", "when", "tasks"];
const FIXED_KEYS: &[&str] = &["type", "value", "when", "tasks"];

/// Parsing context: the file name used in every error.
struct Ctx<'a> {
    origin: &'a str,
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string().trim().replace('\n', " "),
    }
}

impl Ctx<'_> {
    fn unknown_keys(
        &self,
        table: &Table,
        prefix: &str,
        allowed: &[&str],
    ) -> Result<(), SpaceError> {
        match table.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(SpaceError::UnknownKey {
                origin: self.origin.to_string(),
                key: join(prefix, k),
                allowed: allowed.join(", "),
            }),
            None => Ok(()),
        }
    }

    fn wrong(&self, key: &str, v: &Value, expected: &str) -> SpaceError {
        SpaceError::WrongType {
            origin: self.origin.to_string(),
            key: key.to_string(),
            value: show(v),
            expected: expected.to_string(),
        }
    }

    fn missing(&self, key: &str, hint: &str) -> SpaceError {
        SpaceError::Missing {
            origin: self.origin.to_string(),
            key: key.to_string(),
            hint: hint.to_string(),
        }
    }

    fn string(&self, key: &str, v: &Value) -> Result<String, SpaceError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.wrong(key, v, "a string"))
    }

    fn number(&self, key: &str, v: &Value) -> Result<f64, SpaceError> {
        match v {
            Value::Integer(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            _ => Err(self.wrong(key, v, "a number")),
        }
    }

    fn integer(&self, key: &str, v: &Value) -> Result<i64, SpaceError> {
        v.as_integer()
            .ok_or_else(|| self.wrong(key, v, "an integer (no decimal point)"))
    }

    fn tasks(&self, key: &str, v: &Value) -> Result<Vec<Task>, SpaceError> {
        let arr = v.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
            self.wrong(
                key,
                v,
                "a non-empty list of task names, e.g. [\"binary\", \"regression\"]",
            )
        })?;
        let mut tasks = Vec::new();
        for item in arr {
            let name = item
                .as_str()
                .ok_or_else(|| self.wrong(key, item, "a task name string"))?;
            let task = match name {
                "binary" => Task::Binary,
                "multiclass" => Task::Multiclass,
                "regression" => Task::Regression,
                _ => {
                    return Err(SpaceError::UnknownTask {
                        origin: self.origin.to_string(),
                        key: key.to_string(),
                        value: name.to_string(),
                    });
                }
            };
            if !tasks.contains(&task) {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn file_stem(origin: &str) -> String {
    std::path::Path::new(origin)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(origin)
        .to_string()
}

/// Parse and validate a search space.
pub(crate) fn parse(text: &str, origin: &str) -> Result<SearchSpace, SpaceError> {
    let cx = Ctx { origin };
    let table: Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        SpaceError::Syntax {
            origin: origin.to_string(),
            line,
            column,
            message: e.message().trim().replace('\n', "; "),
        }
    })?;
    cx.unknown_keys(&table, "", TOP_KEYS)?;

    let version = table
        .get("version")
        .ok_or_else(|| cx.missing("version", "add `version = 1` at the top of the file"))?;
    let version = match version {
        Value::Integer(1) => 1,
        Value::Integer(_) | Value::Float(_) | Value::String(_) => {
            return Err(SpaceError::UnknownVersion {
                origin: origin.to_string(),
                value: show(version),
            });
        }
        other => return Err(cx.wrong("version", other, "the integer 1")),
    };
    let name = match table.get("name") {
        Some(v) => cx.string("name", v)?,
        None => file_stem(origin),
    };
    let description = match table.get("description") {
        Some(v) => cx.string("description", v)?,
        None => String::new(),
    };
    let families_value = table.get("families").ok_or_else(|| {
        cx.missing(
            "families",
            "add at least one family, e.g. `[families.logistic.params]` with its parameters",
        )
    })?;
    let families_table = families_value
        .as_table()
        .ok_or_else(|| cx.wrong("families", families_value, "a table of model families"))?;
    if families_table.is_empty() {
        return Err(cx.missing(
            "families.<name>",
            "the `families` table is empty: add at least one family, e.g. `[families.logistic.params]`",
        ));
    }
    let mut families = Vec::new();
    for (fname, fvalue) in families_table {
        let fkey = format!("families.{fname}");
        let ftable = fvalue
            .as_table()
            .ok_or_else(|| cx.wrong(&fkey, fvalue, "a table (`[families.NAME]`)"))?;
        families.push(parse_family(&cx, fname, &fkey, ftable)?);
    }
    Ok(SearchSpace {
        name,
        description,
        version,
        families,
        source: text.to_string(),
    })
}

fn parse_family(
    cx: &Ctx<'_>,
    fname: &str,
    fkey: &str,
    ftable: &Table,
) -> Result<FamilySpace, SpaceError> {
    cx.unknown_keys(ftable, fkey, FAMILY_KEYS)?;
    let tasks = match ftable.get("tasks") {
        Some(v) => Some(cx.tasks(&join(fkey, "tasks"), v)?),
        None => None,
    };
    let mut params = Vec::new();
    let pkey = join(fkey, "params");
    if let Some(pv) = ftable.get("params") {
        let ptable = pv
            .as_table()
            .ok_or_else(|| cx.wrong(&pkey, pv, "a table of parameters"))?;
        for (name, v) in ptable {
            let key = join(&pkey, name);
            let t = v.as_table().ok_or_else(|| {
                cx.wrong(&key, v, "an inline table like { type = \"float\", low = 0.0, high = 1.0, default = 0.5 }")
            })?;
            params.push(parse_param(cx, name, &key, t)?);
        }
    }
    check_conditions(cx, &pkey, &params)?;
    Ok(FamilySpace {
        name: fname.to_string(),
        tasks,
        params,
    })
}

fn parse_param(cx: &Ctx<'_>, name: &str, key: &str, t: &Table) -> Result<ParamSpec, SpaceError> {
    let type_value = t.get("type").ok_or_else(|| {
        cx.missing(
            &join(key, "type"),
            "add `type = \"float\"` (or \"int\", \"categorical\", \"fixed\")",
        )
    })?;
    let type_name = cx.string(&join(key, "type"), type_value)?;
    let allowed = match type_name.as_str() {
        "float" | "int" => NUMERIC_KEYS,
        "categorical" => CATEGORICAL_KEYS,
        "fixed" => FIXED_KEYS,
        other => {
            return Err(SpaceError::UnknownType {
                origin: cx.origin.to_string(),
                key: join(key, "type"),
                value: other.to_string(),
            });
        }
    };
    cx.unknown_keys(t, key, allowed)?;
    let dkey = join(key, "default");
    let need_default = || {
        cx.missing(
            &dkey,
            "add the value tried first by the cheap-first start, e.g. `default = ...`",
        )
    };
    let bad_default = |v: &Value, problem: String| SpaceError::BadDefault {
        origin: cx.origin.to_string(),
        key: dkey.clone(),
        value: show(v),
        problem,
    };
    let (dist, default) = match type_name.as_str() {
        "float" | "int" => {
            let is_int = type_name == "int";
            let low_v = t.get("low").ok_or_else(|| {
                cx.missing(
                    &join(key, "low"),
                    "add the inclusive lower bound `low = ...`",
                )
            })?;
            let high_v = t.get("high").ok_or_else(|| {
                cx.missing(
                    &join(key, "high"),
                    "add the inclusive upper bound `high = ...`",
                )
            })?;
            let log = match t.get("log") {
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| cx.wrong(&join(key, "log"), v, "true or false"))?,
                None => false,
            };
            let (low, high) = if is_int {
                (
                    cx.integer(&join(key, "low"), low_v)? as f64,
                    cx.integer(&join(key, "high"), high_v)? as f64,
                )
            } else {
                (
                    cx.number(&join(key, "low"), low_v)?,
                    cx.number(&join(key, "high"), high_v)?,
                )
            };
            if !(low.is_finite() && high.is_finite() && low < high) {
                return Err(SpaceError::BadRange {
                    origin: cx.origin.to_string(),
                    key: key.to_string(),
                    low: show(low_v),
                    high: show(high_v),
                });
            }
            if log && low <= 0.0 {
                return Err(SpaceError::BadLog {
                    origin: cx.origin.to_string(),
                    key: key.to_string(),
                    low: show(low_v),
                });
            }
            let dv = t.get("default").ok_or_else(need_default)?;
            let d = if is_int {
                match dv {
                    Value::Integer(i) => *i as f64,
                    _ => {
                        return Err(bad_default(
                            dv,
                            "is not an integer; write it without a decimal point".into(),
                        ));
                    }
                }
            } else {
                match dv {
                    Value::Integer(i) => *i as f64,
                    Value::Float(f) => *f,
                    _ => {
                        return Err(bad_default(
                            dv,
                            "is not a number; write a number like 0.1".into(),
                        ));
                    }
                }
            };
            if !(d >= low && d <= high) {
                return Err(bad_default(
                    dv,
                    format!(
                        "is outside [{}, {}]; move it inside the bounds",
                        show(low_v),
                        show(high_v)
                    ),
                ));
            }
            if is_int {
                let (l, h) = (low as i64, high as i64);
                (
                    Distribution::Int {
                        low: l,
                        high: h,
                        log,
                    },
                    ParamValue::Int(d as i64),
                )
            } else {
                (Distribution::Float { low, high, log }, ParamValue::Float(d))
            }
        }
        "categorical" => {
            let ckey = join(key, "choices");
            let cv = t
                .get("choices")
                .ok_or_else(|| cx.missing(&ckey, "add `choices = [\"a\", \"b\"]`"))?;
            let arr = cv
                .as_array()
                .ok_or_else(|| cx.wrong(&ckey, cv, "a list of strings"))?;
            let mut choices: Vec<String> = Vec::new();
            for c in arr {
                let s = cx.string(&ckey, c)?;
                if choices.contains(&s) {
                    return Err(SpaceError::BadChoices {
                        origin: cx.origin.to_string(),
                        key: ckey,
                        problem: format!("choice \"{s}\" is listed twice; list each choice once"),
                    });
                }
                choices.push(s);
            }
            if choices.is_empty() {
                return Err(SpaceError::BadChoices {
                    origin: cx.origin.to_string(),
                    key: ckey,
                    problem: "choices is empty; list at least one choice (use type = \"fixed\" for a constant)".into(),
                });
            }
            let dv = t.get("default").ok_or_else(need_default)?;
            let d = dv
                .as_str()
                .ok_or_else(|| bad_default(dv, "is not a string; use one of the choices".into()))?;
            if !choices.iter().any(|c| c == d) {
                return Err(bad_default(
                    dv,
                    format!(
                        "is not among the choices [{}]; use one of them",
                        choices.join(", ")
                    ),
                ));
            }
            let d = ParamValue::Str(d.to_string());
            (Distribution::Categorical { choices }, d)
        }
        _ => {
            let vkey = join(key, "value");
            let vv = t
                .get("value")
                .ok_or_else(|| cx.missing(&vkey, "add the constant `value = ...`"))?;
            let v = match vv {
                Value::Boolean(b) => ParamValue::Bool(*b),
                Value::Integer(i) => ParamValue::Int(*i),
                Value::Float(f) if f.is_finite() => ParamValue::Float(*f),
                Value::String(s) => ParamValue::Str(s.clone()),
                other => return Err(cx.wrong(&vkey, other, "a boolean, number or string")),
            };
            (Distribution::Fixed(v.clone()), v)
        }
    };
    let tasks = match t.get("tasks") {
        Some(v) => Some(cx.tasks(&join(key, "tasks"), v)?),
        None => None,
    };
    let mut when = Vec::new();
    if let Some(wv) = t.get("when") {
        let wkey = join(key, "when");
        let wt = wv
            .as_table()
            .ok_or_else(|| cx.wrong(&wkey, wv, "a table like { other_param = [\"value\"] }"))?;
        for (other, vals) in wt {
            let items: Vec<&Value> = match vals {
                Value::Array(a) => a.iter().collect(),
                v => vec![v],
            };
            let mut list = Vec::new();
            for item in items {
                let s = match item {
                    Value::String(s) => s.clone(),
                    Value::Integer(i) => i.to_string(),
                    Value::Float(f) => f.to_string(),
                    Value::Boolean(b) => b.to_string(),
                    bad => {
                        return Err(cx.wrong(
                            &join(&wkey, other),
                            bad,
                            "a value or a list of values",
                        ));
                    }
                };
                list.push(s);
            }
            if list.is_empty() {
                return Err(SpaceError::BadWhen {
                    origin: cx.origin.to_string(),
                    key: wkey,
                    value: other.clone(),
                    problem:
                        "the list of values is empty; list the values that activate this parameter"
                            .into(),
                });
            }
            when.push((other.clone(), list));
        }
    }
    Ok(ParamSpec {
        name: name.to_string(),
        dist,
        default,
        when,
        tasks,
    })
}

/// Check every `when` condition of a family: known parameter, not itself, valid values, no cycles.
fn check_conditions(cx: &Ctx<'_>, pkey: &str, params: &[ParamSpec]) -> Result<(), SpaceError> {
    let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    for p in params {
        let wkey = format!("{pkey}.{}.when", p.name);
        for (other, values) in &p.when {
            let bad = |value: String, problem: String| SpaceError::BadWhen {
                origin: cx.origin.to_string(),
                key: wkey.clone(),
                value,
                problem,
            };
            if *other == p.name {
                return Err(bad(
                    format!("`{other}`"),
                    "a parameter cannot depend on itself; remove this condition".into(),
                ));
            }
            let Some(target) = params.iter().find(|q| q.name == *other) else {
                return Err(bad(
                    format!("`{other}`"),
                    format!(
                        "no parameter `{other}` in this family (known: {}); fix the name",
                        known.join(", ")
                    ),
                ));
            };
            for v in values {
                let ok = match &target.dist {
                    Distribution::Categorical { choices } => choices.contains(v),
                    Distribution::Fixed(fv) => value_key(fv) == *v,
                    Distribution::Int { low, high, .. } => {
                        v.parse::<i64>().is_ok_and(|x| x >= *low && x <= *high)
                    }
                    Distribution::Float { low, high, .. } => {
                        v.parse::<f64>().is_ok_and(|x| x >= *low && x <= *high)
                    }
                };
                if !ok {
                    let expected = match &target.dist {
                        Distribution::Categorical { choices } => {
                            format!("one of [{}]", choices.join(", "))
                        }
                        Distribution::Fixed(fv) => format!("its fixed value {}", value_key(fv)),
                        Distribution::Int { low, high, .. } => {
                            format!("an integer in [{low}, {high}]")
                        }
                        Distribution::Float { low, high, .. } => {
                            format!("a number in [{low}, {high}]")
                        }
                    };
                    return Err(bad(
                        format!("`{other}` = \"{v}\""),
                        format!("`{other}` can never take this value; use {expected}"),
                    ));
                }
            }
        }
    }
    dependency_order(params)
        .map(|_| ())
        .map_err(|names| SpaceError::BadWhen {
            origin: cx.origin.to_string(),
            key: pkey.to_string(),
            value: names.join(", "),
            problem:
                "these parameters' `when` conditions form a cycle; make one of them unconditional"
                    .into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbb = [\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 4));
    }
}
