//! The registry of model families: the one place typed parameters become trait objects and
//! the one place a stored model's bytes are decoded.

use crate::families;
use crate::{Family, Model, ModelError};
use automl_core::Task;

/// All registered families, in a stable order (cheap first within each group).
pub struct Registry {
    families: Vec<Box<dyn Family>>,
}

impl Registry {
    fn new() -> Self {
        let mut families: Vec<Box<dyn Family>> = vec![
            Box::new(families::logistic::Logistic),
            Box::new(families::naive_bayes::NaiveBayesFamily),
            Box::new(families::knn::Knn),
            Box::new(families::svm::SvmFamily),
            Box::new(families::decision_tree::DecisionTree),
            Box::new(families::linear::Linear),
            Box::new(families::ridge::Ridge),
            Box::new(families::lasso::Lasso),
            Box::new(families::elastic_net::ElasticNetFamily),
            Box::new(families::trees::GbdtFamily),
            Box::new(families::trees::RandomForestFamily),
            Box::new(families::trees::ExtraTreesFamily),
            Box::new(families::mlp::MlpFamily),
        ];
        if families::testing::enabled() {
            families.extend(families::testing::families());
        }
        Registry { families }
    }

    /// Look up a family by name.
    pub fn get(&self, name: &str) -> Option<&dyn Family> {
        self.families
            .iter()
            .find(|f| f.name() == name)
            .map(|b| b.as_ref())
    }

    /// Every family, in registration order.
    pub fn families(&self) -> Vec<&dyn Family> {
        self.families.iter().map(|b| b.as_ref()).collect()
    }

    /// The families that support `task`, in registration order.
    pub fn families_for(&self, task: Task) -> Vec<&dyn Family> {
        self.families
            .iter()
            .filter(|f| f.tasks().contains(&task))
            .map(|b| b.as_ref())
            .collect()
    }

    /// Decode a model stored by `Model::to_bytes` of the family `family`.
    pub fn decode(&self, family: &str, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        self.get(family)
            .ok_or_else(|| ModelError::UnknownFamily(family.to_string()))?
            .decode(bytes)
    }
}

/// The global registry.
pub fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(Registry::new)
}
