//! The registry of model families (filled by the model-zoo work).
use crate::Family;
/// All registered families.
pub struct Registry {
    families: Vec<Box<dyn Family>>,
}
impl Registry {
    /// Look up a family by name.
    pub fn get(&self, name: &str) -> Option<&dyn Family> {
        self.families.iter().find(|f| f.name() == name).map(|b| b.as_ref())
    }
}
/// The global registry.
pub fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(|| Registry { families: Vec::new() })
}
