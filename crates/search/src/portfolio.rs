//! The zero-shot portfolio file (`search-spaces/portfolio.toml`): parsing, filtering by task,
//! and writing.
//!
//! ```toml
//! version = 1
//! description = "..."
//! [[config]]
//! family = "gbdt"
//! tasks = ["binary", "multiclass", "regression"]   # optional: all tasks when absent
//! params = { learning_rate = 0.05, max_leaves = 31 }
//! ```

use automl_core::{Candidate, ParamValue, Params, Task};
use std::fmt::Write as _;
use thiserror::Error;

/// The portfolio file format version this crate reads and writes.
pub const PORTFOLIO_VERSION: i64 = 1;

/// One portfolio entry: the candidate (operator `portfolio`) and the tasks it applies to (empty =
/// every task).
pub type PortfolioConfig = (Candidate, Vec<Task>);

/// Errors of this crate (reading a portfolio file).
#[derive(Debug, Error, PartialEq)]
pub enum PortfolioError {
    /// The text is not valid TOML.
    #[error("{origin}: not valid TOML: {message}")]
    Toml {
        /// File name or other origin of the text.
        origin: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A top-level key is missing or wrong.
    #[error("{origin}: key `{key}`: {message}")]
    Header {
        /// File name or other origin of the text.
        origin: String,
        /// The offending top-level key.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A `[[config]]` entry is wrong.
    #[error("{origin}: [[config]] entry {index}, key `{key}`: {message}")]
    Entry {
        /// File name or other origin of the text.
        origin: String,
        /// 0-based index of the entry in the file.
        index: usize,
        /// The offending key (`params.NAME` for a parameter).
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Parse a portfolio file. `origin` (usually the path) names the file in errors. Every entry
/// becomes a [`Candidate`] with operator `portfolio` at full fidelity, in file order.
pub fn load_portfolio(text: &str, origin: &str) -> Result<Vec<PortfolioConfig>, PortfolioError> {
    let root: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| PortfolioError::Toml {
            origin: origin.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
    let header = |key: &str, message: String| PortfolioError::Header {
        origin: origin.to_string(),
        key: key.to_string(),
        message,
    };
    match root.get("version") {
        Some(toml::Value::Integer(PORTFOLIO_VERSION)) => {}
        Some(v) => {
            return Err(header(
                "version",
                format!("unsupported version {v}; this build reads version {PORTFOLIO_VERSION}"),
            ));
        }
        None => {
            return Err(header(
                "version",
                format!("missing; add `version = {PORTFOLIO_VERSION}` at the top"),
            ));
        }
    }
    for key in root.keys() {
        if !matches!(key.as_str(), "version" | "description" | "config") {
            return Err(header(
                key,
                "unknown key; expected `version`, `description` and `[[config]]` entries".into(),
            ));
        }
    }
    if let Some(d) = root.get("description") {
        if !d.is_str() {
            return Err(header("description", "must be a string".into()));
        }
    }
    let entries = match root.get("config") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(a)) => a,
        Some(_) => {
            return Err(header(
                "config",
                "must be an array of tables (`[[config]]`)".into(),
            ));
        }
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, v)| parse_entry(v, origin, index))
        .collect()
}

fn parse_entry(
    v: &toml::Value,
    origin: &str,
    index: usize,
) -> Result<PortfolioConfig, PortfolioError> {
    let err = |key: &str, message: String| PortfolioError::Entry {
        origin: origin.to_string(),
        index,
        key: key.to_string(),
        message,
    };
    let table = v.as_table().ok_or_else(|| {
        err(
            "config",
            "must be a table with `family` and `params`".into(),
        )
    })?;
    for key in table.keys() {
        if !matches!(key.as_str(), "family" | "tasks" | "params" | "origin") {
            return Err(err(
                key,
                "unknown key; expected `family`, `tasks`, `params` and `origin`".into(),
            ));
        }
    }
    let family = match table.get("family") {
        Some(toml::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(err("family", "must be a non-empty string".into())),
        None => return Err(err("family", "missing; name the model family".into())),
    };
    let mut tasks = Vec::new();
    match table.get("tasks") {
        None => {}
        Some(toml::Value::Array(a)) => {
            for t in a {
                let task = t
                    .as_str()
                    .and_then(|s| s.parse::<Task>().ok())
                    .ok_or_else(|| {
                        err(
                            "tasks",
                            format!("{t} is not a task; use binary, multiclass or regression"),
                        )
                    })?;
                if !tasks.contains(&task) {
                    tasks.push(task);
                }
            }
        }
        Some(_) => {
            return Err(err(
                "tasks",
                "must be an array of task names, e.g. [\"binary\", \"regression\"]".into(),
            ));
        }
    }
    let mut params = Params::new();
    match table.get("params") {
        None => {}
        Some(toml::Value::Table(t)) => {
            for (name, value) in t {
                let pv = match value {
                    toml::Value::Float(f) => ParamValue::Float(*f),
                    toml::Value::Integer(i) => ParamValue::Int(*i),
                    toml::Value::String(s) => ParamValue::Str(s.clone()),
                    toml::Value::Boolean(b) => ParamValue::Bool(*b),
                    other => {
                        return Err(err(
                            &format!("params.{name}"),
                            format!(
                                "a {} is not a parameter value; use a float, integer, string or boolean",
                                other.type_str()
                            ),
                        ));
                    }
                };
                params.insert(name.clone(), pv);
            }
        }
        Some(_) => {
            return Err(err(
                "params",
                "must be a table, e.g. params = { learning_rate = 0.05 }".into(),
            ));
        }
    }
    match table.get("origin") {
        None | Some(toml::Value::String(_)) => {}
        Some(_) => {
            return Err(err(
                "origin",
                "must be a string (the dataset the configuration was found on)".into(),
            ));
        }
    }
    Ok((Candidate::new(family, params, "portfolio"), tasks))
}

/// The `origin` of every entry of a portfolio file that [`load_portfolio`] accepts, in file
/// order: the name of the dataset (study) the configuration was found on, when the file says.
/// `fit` ignores it; `automl portfolio --select --leave-one-out` keeps a dataset's own
/// configurations out of the portfolio it is scored on.
pub fn portfolio_origins(text: &str) -> Vec<Option<String>> {
    let Ok(root) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    match root.get("config") {
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.get("origin")
                    .and_then(toml::Value::as_str)
                    .map(str::to_string)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The candidates of a portfolio that apply to `task` (entries without tasks apply to all), in
/// file order.
pub fn portfolio_for(configs: &[PortfolioConfig], task: Task) -> Vec<Candidate> {
    configs
        .iter()
        .filter(|(_, tasks)| tasks.is_empty() || tasks.contains(&task))
        .map(|(c, _)| c.clone())
        .collect()
}

/// A TOML key: bare when possible, quoted otherwise.
fn toml_key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        toml::Value::String(k.to_string()).to_string()
    }
}

fn toml_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(b) => toml::Value::Boolean(*b).to_string(),
        ParamValue::Int(i) => toml::Value::Integer(*i).to_string(),
        ParamValue::Float(f) => toml::Value::Float(*f).to_string(),
        ParamValue::Str(s) => toml::Value::String(s.clone()).to_string(),
    }
}

/// Write a portfolio file that [`load_portfolio`] reads back to the same configurations (the
/// operator, parents and fidelity of the candidates are not stored). Entries with no tasks are
/// written without a `tasks` key (= every task).
pub fn portfolio_to_toml(configs: &[PortfolioConfig], description: &str) -> String {
    portfolio_to_toml_with_origins(configs, &[], description)
}

/// As [`portfolio_to_toml`], with an `origin` key (see [`portfolio_origins`]) on entry `i`
/// when `origins[i]` is `Some`.
pub fn portfolio_to_toml_with_origins(
    configs: &[PortfolioConfig],
    origins: &[Option<String>],
    description: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "version = {PORTFOLIO_VERSION}");
    let _ = writeln!(
        out,
        "description = {}",
        toml::Value::String(description.to_string())
    );
    for (i, (c, tasks)) in configs.iter().enumerate() {
        let _ = writeln!(out, "\n[[config]]");
        let _ = writeln!(out, "family = {}", toml::Value::String(c.family.clone()));
        if let Some(Some(origin)) = origins.get(i) {
            let _ = writeln!(out, "origin = {}", toml::Value::String(origin.clone()));
        }
        if !tasks.is_empty() {
            let names: Vec<String> = tasks
                .iter()
                .map(|t| format!("\"{}\"", t.as_str()))
                .collect();
            let _ = writeln!(out, "tasks = [{}]", names.join(", "));
        }
        let params: Vec<String> = c
            .params
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v)))
            .collect();
        if params.is_empty() {
            let _ = writeln!(out, "params = {{}}");
        } else {
            let _ = writeln!(out, "params = {{ {} }}", params.join(", "));
        }
    }
    out
}
