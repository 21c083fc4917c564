//! The conformance suite against `MemoryStore` (one test per check), and the thread-safety of
//! every store type.

use automl_store::{MemoryStore, SledStore, SnapshotStore, Store, StoreRead};

automl_store::conformance_tests!(|| Box::new(MemoryStore::new()) as Box<dyn Store>);

#[test]
fn store_types_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<MemoryStore>();
    check::<SledStore>();
    check::<SnapshotStore>();
    check::<Box<dyn Store>>();
    check::<Box<dyn StoreRead>>();
}
