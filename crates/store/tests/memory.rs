//! The conformance suites (store and trial queue) against `MemoryStore` (one test per
//! check), and the thread-safety of every store type.

use automl_store::{MemoryStore, PgStore, SledStore, SnapshotStore, Store, StoreRead};

automl_store::conformance_tests!(|| Box::new(MemoryStore::new()) as Box<dyn Store>);

/// `n` handles (clones) on one fresh memory store.
fn handles(n: usize) -> Vec<Box<dyn Store>> {
    let s = MemoryStore::new();
    (0..n)
        .map(|_| Box::new(s.clone()) as Box<dyn Store>)
        .collect()
}

automl_store::queue_conformance_tests!(handles);

#[test]
fn store_types_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<MemoryStore>();
    check::<SledStore>();
    check::<SnapshotStore>();
    check::<PgStore>();
    check::<Box<dyn Store>>();
    check::<Box<dyn StoreRead>>();
}
