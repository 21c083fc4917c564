//! Helpers shared by the dashboard's integration tests (each test binary uses a subset).
#![allow(dead_code)]

pub mod fixture;
pub mod http;
