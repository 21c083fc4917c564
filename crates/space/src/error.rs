//! The error type of automl-space: every way a search-space file can be wrong, with the file,
//! the key and the bad value, and what to do about it.

use thiserror::Error;

/// A search space could not be read or is invalid.
#[derive(Debug, Error)]
pub enum SpaceError {
    /// The file could not be read.
    #[error(
        "cannot read search space file `{path}`: {source}; check the path (built-in spaces: default, fast)"
    )]
    Io {
        /// Path as given.
        path: String,
        /// Underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML.
    #[error(
        "{origin}:{line}:{column}: TOML syntax error: {message}; fix the syntax at that position"
    )]
    Syntax {
        /// File name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// A required key is absent.
    #[error("{origin}: missing required key `{key}`; {hint}")]
    Missing {
        /// File name.
        origin: String,
        /// Dotted key path.
        key: String,
        /// What to add.
        hint: String,
    },
    /// `version` is not one this build reads.
    #[error(
        "{origin}: unknown search space version `{value}`; this build reads version 1: set `version = 1`"
    )]
    UnknownVersion {
        /// File name.
        origin: String,
        /// The version found.
        value: String,
    },
    /// A parameter `type` is not float, int, categorical or fixed.
    #[error(
        "{origin}: `{key}` has unknown type `{value}`; use one of float, int, categorical, fixed"
    )]
    UnknownType {
        /// File name.
        origin: String,
        /// Dotted key path of the `type` entry.
        key: String,
        /// The type found.
        value: String,
    },
    /// `low >= high` or a bound is not finite.
    #[error(
        "{origin}: `{key}`: low = {low} must be finite and below high = {high}; fix the bounds"
    )]
    BadRange {
        /// File name.
        origin: String,
        /// Dotted key path of the parameter.
        key: String,
        /// Lower bound as written.
        low: String,
        /// Upper bound as written.
        high: String,
    },
    /// `log = true` with `low <= 0`.
    #[error(
        "{origin}: `{key}`: log = true needs low > 0 but low = {low}; raise low or set log = false"
    )]
    BadLog {
        /// File name.
        origin: String,
        /// Dotted key path of the parameter.
        key: String,
        /// Lower bound as written.
        low: String,
    },
    /// The default is of the wrong type, outside the range or not among the choices.
    #[error("{origin}: `{key}`: default {value} {problem}")]
    BadDefault {
        /// File name.
        origin: String,
        /// Dotted key path of the `default` entry.
        key: String,
        /// The default as written.
        value: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A categorical parameter has no choices (or duplicates).
    #[error("{origin}: `{key}`: {problem}")]
    BadChoices {
        /// File name.
        origin: String,
        /// Dotted key path of the `choices` entry.
        key: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A `when` condition names an unknown parameter or value, or conditions form a cycle.
    #[error("{origin}: `{key}`: condition on {value}: {problem}")]
    BadWhen {
        /// File name.
        origin: String,
        /// Dotted key path of the `when` entry.
        key: String,
        /// The offending parameter name or value.
        value: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A task name is not binary, multiclass or regression.
    #[error("{origin}: `{key}`: unknown task `{value}`; use binary, multiclass or regression")]
    UnknownTask {
        /// File name.
        origin: String,
        /// Dotted key path of the `tasks` entry.
        key: String,
        /// The task found.
        value: String,
    },
    /// A key that the format does not define (or that does not apply to this parameter type).
    #[error("{origin}: unknown key `{key}`; allowed here: {allowed}")]
    UnknownKey {
        /// File name.
        origin: String,
        /// Dotted key path.
        key: String,
        /// The keys allowed at that place.
        allowed: String,
    },
    /// A value has the wrong TOML type.
    #[error("{origin}: `{key}` = {value} should be {expected}")]
    WrongType {
        /// File name.
        origin: String,
        /// Dotted key path.
        key: String,
        /// The value as written.
        value: String,
        /// The expected type, e.g. "a number".
        expected: String,
    },
}
