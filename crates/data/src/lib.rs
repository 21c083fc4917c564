//! automl-data: CSV, Parquet or Arrow IPC -> [`Dataset`] (type inference, missing values, target and task, data
//! report with bad-data warnings), fitted preprocessing ([`Preprocessor`], saved with the model)
//! and validation splits ([`kfold`], [`holdout`]).
//!
//! Typical use:
//! ```no_run
//! use automl_data::{load_training, ReadOptions, Preprocessor, kfold};
//! use automl_core::PrepKind;
//! let ds = load_training(std::path::Path::new("train.csv"), &ReadOptions::default()).unwrap();
//! println!("{}", ds.report);
//! for split in kfold(&ds.y, ds.task, 5, 42) {
//!     let prep = Preprocessor::fit(&ds.features, &split.train, PrepKind::Scaled);
//!     let x_train = prep.transform_rows(&ds.features, &split.train).unwrap();
//!     let x_valid = prep.transform_rows(&ds.features, &split.valid).unwrap();
//!     # let _ = (x_train, x_valid);
//! }
//! ```

mod columnar;
mod error;
mod frame;
mod hash;
mod leakage;
mod load;
mod prep;
mod reader;
mod records;
mod report;
mod split;
pub mod target_encode;
mod time;

pub use columnar::{OutColumn, write_parquet};
pub use error::{DataError, RowUnit};
pub use frame::{Column, ColumnData, ColumnKind, Frame, MISSING_CODE};
pub use hash::fingerprint;
pub use load::{
    Dataset, ReadOptions, default_missing_tokens, load_for_prediction, load_for_prediction_bytes,
    load_training, load_training_bytes, read_frame, read_text_column,
};
pub use prep::{
    CLIP, MIN_MISSING_FOR_INDICATOR, ONE_HOT_MAX_LEVELS, PREP_VERSION, Preprocessor, TREE_MAX_CODES,
};
pub use records::{RECORDS_LABEL, frame_from_records};
pub use report::{ColumnReport, ColumnRole, DataReport, Warning, WarningKind};
pub use split::{
    RowBlocks, Split, SplitError, forward_folds, forward_holdout, group_holdout, group_kfold,
    holdout, kfold,
};
pub use time::parse_iso8601;
