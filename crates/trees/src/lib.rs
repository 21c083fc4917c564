//! automl-trees (placeholder until its issue lands).
