//! (being written: reference profile)
