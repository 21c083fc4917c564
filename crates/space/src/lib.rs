//! automl-space (placeholder until its issue lands).
