//! automl-store (placeholder until its issue lands).
