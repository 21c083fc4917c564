//! automl-search (placeholder until its issue lands).
