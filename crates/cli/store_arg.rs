//! `--store`: a sled directory or a PostgreSQL URL, opened for reading or for writing, and the
//! study a command works on (`--study ID` or the latest), with
//! messages that name the store as given (a PostgreSQL password is always masked).

use anyhow::{Context, Result, bail};
use automl_core::StudyRecord;
use automl_store::{Store, StoreLocation, StoreRead};

/// clap's parser for `--store` values: a `postgres://` / `postgresql://` URL, or a directory.
pub fn parse_location(s: &str) -> Result<StoreLocation, String> {
    StoreLocation::parse(s).map_err(|e| e.to_string())
}

/// Open an existing store for reading. A directory is never created and works while a `fit`
/// holds it (through its snapshot); a PostgreSQL store is read live.
pub fn open_existing(at: &StoreLocation) -> Result<Box<dyn StoreRead>> {
    if let StoreLocation::Dir(path) = at {
        if !path.exists() {
            bail!(
                "no store at `{}`; run `automl fit DATA.csv` first, or pass --store DIR|URL",
                path.display()
            );
        }
    }
    Ok(automl_store::open_read(at)?)
}

/// Open a store for writing: a directory is created if missing (a reader's brief lock is
/// retried, see `automl_engine::open_store`); a PostgreSQL database is migrated on first use.
pub fn open_writable(at: &StoreLocation) -> Result<Box<dyn Store>> {
    Ok(match at {
        StoreLocation::Dir(path) => Box::new(automl_engine::open_store(path)?),
        StoreLocation::Postgres(_) => automl_store::open_store(at)?,
    })
}

/// Open an existing store to read fitted models (artifacts and blobs): a directory needs the
/// database itself (a snapshot holds records only), so it is opened as its writer would;
/// PostgreSQL is read directly.
pub fn open_models(at: &StoreLocation) -> Result<Box<dyn StoreRead>> {
    match at {
        StoreLocation::Dir(path) => {
            if !path.exists() {
                bail!(
                    "no store at `{}`; run `automl fit DATA.csv --store {}` first",
                    path.display(),
                    path.display()
                );
            }
            let store: Box<dyn StoreRead> = Box::new(automl_engine::open_store(path)?);
            Ok(store)
        }
        StoreLocation::Postgres(_) => open_existing(at),
    }
}

/// The study `id`, or the latest one.
pub fn pick_study(
    store: &dyn StoreRead,
    id: Option<u64>,
    at: &StoreLocation,
) -> Result<StudyRecord> {
    match id {
        Some(id) => store.study(id)?.with_context(|| {
            format!("--study {id}: no such study in `{at}`; `automl studies` lists them")
        }),
        None => store
            .latest_study()?
            .with_context(|| format!("the store `{at}` holds no study; run `automl fit` first")),
    }
}
