//! automl-data (placeholder until its issue lands).
