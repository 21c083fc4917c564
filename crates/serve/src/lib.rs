//! (being written: the HTTP service of `automl serve`)
