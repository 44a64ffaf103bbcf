//! The store conformance suite, run against every store this crate ships, and once through
//! `Arc<dyn Store>` to prove the forwarding impls (object_store's `arc_test`).

mod memory {
    orgroster::store_conformance_tests!(|| async { Some(orgroster::MemoryStore::new()) });
}

mod dyn_wrappers {
    orgroster::store_conformance_tests!(|| async {
        let inner: std::sync::Arc<orgroster::DynStore> =
            std::sync::Arc::new(orgroster::MemoryStore::new());
        Some(inner)
    });
}
