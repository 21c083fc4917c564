//! End-to-end tests of the real `automl` binary on real files and a real sled store
//! (one integration test binary, as in ripgrep).

mod bad_input;
mod big_data;
mod calibration;
mod cat_encoding;
mod cli;
mod columnar;
mod crash;
mod distributed;
mod drift;
mod evaluate;
mod explain;
mod fold_fidelity;
mod inspect;
mod isolation;
mod json_output;
mod leakage;
mod mlp;
mod pipes;
mod portfolio;
mod predlog;
mod seeds;
mod serve;
mod stacking;
mod tweedie;
mod typed_meta;
mod util;
mod validation;
