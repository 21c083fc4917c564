//! Writing a search space back to TOML in the documented format (used for restricted spaces,
//! whose `source` must describe exactly the families they contain).

use crate::spec::{Distribution, ParamSpec, SearchSpace};
use automl_core::{ParamValue, Task};
use std::fmt::Write;
use toml::Value;

fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        Value::String(name.to_string()).to_string()
    }
}

fn string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn float(x: f64) -> String {
    Value::Float(x).to_string()
}

fn value(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => float(*f),
        ParamValue::Str(s) => string(s),
    }
}

fn tasks(t: &[Task]) -> String {
    let items: Vec<String> = t.iter().map(|t| string(t.as_str())).collect();
    format!("[{}]", items.join(", "))
}

fn param(p: &ParamSpec) -> String {
    let mut fields: Vec<String> = Vec::new();
    match &p.dist {
        Distribution::Float { low, high, log } => {
            fields.push("type = \"float\"".into());
            fields.push(format!("low = {}", float(*low)));
            fields.push(format!("high = {}", float(*high)));
            if *log {
                fields.push("log = true".into());
            }
            fields.push(format!("default = {}", value(&p.default)));
        }
        Distribution::Int { low, high, log } => {
            fields.push("type = \"int\"".into());
            fields.push(format!("low = {low}"));
            fields.push(format!("high = {high}"));
            if *log {
                fields.push("log = true".into());
            }
            fields.push(format!("default = {}", value(&p.default)));
        }
        Distribution::Categorical { choices } => {
            fields.push("type = \"categorical\"".into());
            let c: Vec<String> = choices.iter().map(|c| string(c)).collect();
            fields.push(format!("choices = [{}]", c.join(", ")));
            fields.push(format!("default = {}", value(&p.default)));
        }
        Distribution::Fixed(v) => {
            fields.push("type = \"fixed\"".into());
            fields.push(format!("value = {}", value(v)));
        }
    }
    if !p.when.is_empty() {
        let conds: Vec<String> = p
            .when
            .iter()
            .map(|(other, vals)| {
                let v: Vec<String> = vals.iter().map(|s| string(s)).collect();
                format!("{} = [{}]", key(other), v.join(", "))
            })
            .collect();
        fields.push(format!("when = {{ {} }}", conds.join(", ")));
    }
    if let Some(t) = &p.tasks {
        fields.push(format!("tasks = {}", tasks(t)));
    }
    format!("{} = {{ {} }}", key(&p.name), fields.join(", "))
}

impl SearchSpace {
    /// The space as TOML in the documented format; [`SearchSpace::from_toml_str`] reads it
    /// back to an equal space (apart from `source`).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "version = {}", self.version);
        let _ = writeln!(out, "name = {}", string(&self.name));
        let _ = writeln!(out, "description = {}", string(&self.description));
        if self.families.is_empty() {
            out.push_str("families = {}\n");
        }
        for f in &self.families {
            let fk = key(&f.name);
            let _ = writeln!(out, "\n[families.{fk}]");
            if let Some(t) = &f.tasks {
                let _ = writeln!(out, "tasks = {}", tasks(t));
            }
            let _ = writeln!(out, "[families.{fk}.params]");
            for p in &f.params {
                let _ = writeln!(out, "{}", param(p));
            }
        }
        out
    }
}
