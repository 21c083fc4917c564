//! The learning task: binary / multiclass classification or regression.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of target is predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Two classes; the positive class is class index 1.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A real-valued target.
    Regression,
}

impl Task {
    /// True for binary and multiclass.
    pub fn is_classification(self) -> bool {
        !matches!(self, Task::Regression)
    }
    /// The lowercase name used on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
        }
    }
    /// All tasks, in a stable order.
    pub const ALL: [Task; 3] = [Task::Binary, Task::Multiclass, Task::Regression];
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "binary" => Ok(Task::Binary),
            "multiclass" => Ok(Task::Multiclass),
            "regression" => Ok(Task::Regression),
            other => Err(format!(
                "unknown task `{other}`: use one of binary, multiclass, regression"
            )),
        }
    }
}
