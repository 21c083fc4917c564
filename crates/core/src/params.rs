//! Hyperparameter values: the typed cells of a candidate configuration.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One hyperparameter value. Serialized untagged (a JSON bool, integer, float or string);
/// deserialized by a direct visitor with the same result as serde's untagged enum (bool, then
/// integer, then float, then string), without its buffering and per-variant errors, which
/// dominated the time of reading many trial records.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A boolean flag.
    Bool(bool),
    /// An integer (sizes, counts).
    Int(i64),
    /// A real number.
    Float(f64),
    /// A categorical choice.
    Str(String),
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a bool, number or string")
            }
            fn visit_bool<E>(self, b: bool) -> Result<ParamValue, E> {
                Ok(ParamValue::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<ParamValue, E> {
                Ok(ParamValue::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<ParamValue, E> {
                Ok(i64::try_from(u).map_or(ParamValue::Float(u as f64), ParamValue::Int))
            }
            fn visit_f64<E>(self, x: f64) -> Result<ParamValue, E> {
                Ok(ParamValue::Float(x))
            }
            fn visit_str<E>(self, s: &str) -> Result<ParamValue, E> {
                Ok(ParamValue::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<ParamValue, E> {
                Ok(ParamValue::Str(s))
            }
        }
        d.deserialize_any(V)
    }
}

/// A full configuration: parameter name -> value, ordered by name (stable hashing and printing).
pub type Params = BTreeMap<String, ParamValue>;

impl ParamValue {
    /// The value as f64 if it is numeric (Int or Float) or a bool (0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            ParamValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            ParamValue::Str(_) => None,
        }
    }
    /// The value as i64 if it is an Int (or a Float with an integral value).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ParamValue::Int(i) => Some(*i),
            ParamValue::Float(f) if f.fract() == 0.0 && f.is_finite() => Some(*f as i64),
            _ => None,
        }
    }
    /// The value as a string slice if it is a Str.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The value as bool if it is a Bool (or the strings "true"/"false").
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ParamValue::Bool(b) => Some(*b),
            ParamValue::Str(s) if s == "true" => Some(true),
            ParamValue::Str(s) if s == "false" => Some(false),
            _ => None,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => {
                if x.abs() >= 1e-3 && x.abs() < 1e5 || *x == 0.0 {
                    write!(f, "{}", (x * 1e4).round() / 1e4)
                } else {
                    write!(f, "{x:.3e}")
                }
            }
            ParamValue::Str(s) => f.write_str(s),
        }
    }
}

/// Helpers to read typed parameters with a default, as every model recipe does.
pub trait ParamsExt {
    /// A float parameter, or `default` when absent.
    fn f64_or(&self, name: &str, default: f64) -> f64;
    /// An integer parameter, or `default` when absent.
    fn i64_or(&self, name: &str, default: i64) -> i64;
    /// A string parameter, or `default` when absent.
    fn str_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str;
    /// A boolean parameter, or `default` when absent.
    fn bool_or(&self, name: &str, default: bool) -> bool;
    /// A one-line `k=v, k=v` rendering.
    fn render(&self) -> String;
}

impl ParamsExt for Params {
    fn f64_or(&self, name: &str, default: f64) -> f64 {
        self.get(name)
            .and_then(ParamValue::as_f64)
            .unwrap_or(default)
    }
    fn i64_or(&self, name: &str, default: i64) -> i64 {
        self.get(name)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f.round() as i64)))
            .unwrap_or(default)
    }
    fn str_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name)
            .and_then(ParamValue::as_str)
            .unwrap_or(default)
    }
    fn bool_or(&self, name: &str, default: bool) -> bool {
        self.get(name)
            .and_then(ParamValue::as_bool)
            .unwrap_or(default)
    }
    fn render(&self) -> String {
        self.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
