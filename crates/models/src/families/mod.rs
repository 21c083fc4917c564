//! Model family modules: one module per family (the `trees` module belongs to the tree engine).

pub mod decision_tree;
pub mod elastic_net;
pub mod knn;
pub mod lasso;
pub mod linear;
pub mod logistic;
pub mod mlp;
pub mod naive_bayes;
pub mod ridge;
mod smo;
pub mod svm;
pub mod testing;
pub mod trees;
