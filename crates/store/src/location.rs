//! `StoreLocation`: what a `--store` argument names (a sled directory or a PostgreSQL URL),
//! and the two ways of opening it, for writing and for reading.

use crate::postgres::{PgStore, PgUrl};
use crate::{SledStore, Store, StoreError, StoreRead};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where a store lives. Displays with a PostgreSQL password masked (`postgres://u:***@h:5432/db`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A sled store directory (the embedded default).
    Dir(PathBuf),
    /// A PostgreSQL database that several processes share.
    Postgres(PgUrl),
}

impl StoreLocation {
    /// A `postgres://` or `postgresql://` URL is PostgreSQL (`Invalid` when it does not parse;
    /// the message masks the password); anything else is a directory path.
    pub fn parse(s: &str) -> Result<StoreLocation, StoreError> {
        if PgUrl::is_pg_url(s) {
            PgUrl::parse(s).map(StoreLocation::Postgres)
        } else {
            Ok(StoreLocation::Dir(PathBuf::from(s)))
        }
    }

    /// Whether several processes can share the store (and it has a trial queue).
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreLocation::Postgres(_))
    }
}

impl FromStr for StoreLocation {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StoreLocation::parse(s)
    }
}

impl From<PathBuf> for StoreLocation {
    fn from(p: PathBuf) -> Self {
        StoreLocation::Dir(p)
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Dir(p) => write!(f, "{}", p.display()),
            StoreLocation::Postgres(u) => write!(f, "{u}"),
        }
    }
}

/// Open (or create) a store for writing: [`SledStore::open`] for a directory; for PostgreSQL,
/// connect and migrate the schema ([`PgStore::open`]).
pub fn open_store(at: &StoreLocation) -> Result<Box<dyn Store>, StoreError> {
    Ok(match at {
        StoreLocation::Dir(p) => Box::new(SledStore::open(p)?),
        StoreLocation::Postgres(u) => Box::new(PgStore::open(u)?),
    })
}

/// Open a store for reading: [`crate::open_read_only`] for a directory (never fails on the
/// lock); for PostgreSQL, connect without DDL when the schema is current
/// ([`PgStore::open_read`]). Never creates a store.
pub fn open_read(at: &StoreLocation) -> Result<Box<dyn StoreRead>, StoreError> {
    Ok(match at {
        StoreLocation::Dir(p) => crate::open_read_only(p)?,
        StoreLocation::Postgres(u) => Box::new(PgStore::open_read(u)?),
    })
}
