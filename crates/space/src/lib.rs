//! automl-space: search spaces as data. Loads the TOML files of `search-spaces/` into typed,
//! validated, conditional distributions per model family, and offers what search strategies need:
//! defaults, sampling, mutation, crossover and an encoding to `[0,1]^d` and back.
//!
//! Model-family names are not checked here: the engine checks them against the model registry.

mod emit;
mod error;
mod parse;
mod spec;

pub use error::SpaceError;
pub use spec::{Distribution, FamilySpace, MUTATION_SD, ParamSpec, SearchSpace, value_key};

use std::path::Path;

/// Text of the shipped `default` space.
const DEFAULT_TOML: &str = include_str!("../../../search-spaces/default.toml");
/// Text of the shipped `fast` space.
const FAST_TOML: &str = include_str!("../../../search-spaces/fast.toml");

/// Names of the built-in spaces, accepted by [`SearchSpace::builtin`].
pub const BUILTIN_NAMES: [&str; 2] = ["default", "fast"];

impl SearchSpace {
    /// Parse and validate a space from TOML text; `origin` (usually the file name) prefixes errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<SearchSpace, SpaceError> {
        parse::parse(text, origin)
    }

    /// Read, parse and validate a space file.
    pub fn load(path: &Path) -> Result<SearchSpace, SpaceError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpaceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// A shipped space by name (`default` or `fast`, see [`BUILTIN_NAMES`]).
    ///
    /// # Panics
    /// If the embedded file is invalid (the crate's tests parse both files).
    pub fn builtin(name: &str) -> Option<SearchSpace> {
        let text = match name {
            "default" => DEFAULT_TOML,
            "fast" => FAST_TOML,
            _ => return None,
        };
        let origin = format!("search-spaces/{name}.toml");
        Some(
            Self::from_toml_str(text, &origin)
                .unwrap_or_else(|e| panic!("built-in space is invalid: {e}")),
        )
    }
}
