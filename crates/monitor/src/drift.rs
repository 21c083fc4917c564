//! (being written: drift checks)
