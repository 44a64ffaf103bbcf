//! The store conformance suite, run against every store this crate ships, and once through
//! `Arc<dyn Store>` to prove the forwarding impls (object_store's `arc_test`).
//!
//! Each case gets a store of its own: a fresh in-memory database, a fresh SQLite file, or a
//! fresh PostgreSQL schema, so cases run in parallel and the outbox of one case never meets
//! another's. PostgreSQL cases run when `ORGROSTER_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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

#[cfg(feature = "sqlite")]
mod sqlite_memory {
    orgroster::store_conformance_tests!(|| async {
        Some(
            orgroster::SqliteStore::in_memory()
                .await
                .expect("in-memory SQLite"),
        )
    });
}

#[cfg(feature = "sqlite")]
mod sqlite_file {
    use crate::scratch::{ScratchDir, sqlite_url};

    orgroster::store_conformance_tests!(
        || async {
            // A directory of its own, removed after the case with the database's WAL files.
            let dir = ScratchDir::new("conf");
            let store = orgroster::SqliteStore::connect(&sqlite_url(&dir.path()))
                .await
                .expect("SQLite file");
            store.migrate().await.expect("migrate");
            // Twice: migrations are idempotent.
            store.migrate().await.expect("migrate again");
            Some((store, dir))
        },
        |dir: ScratchDir| async move { drop(dir) }
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    orgroster::store_conformance_tests!(
        || async {
            let url = std::env::var("ORGROSTER_TEST_POSTGRES_URL").ok()?;
            let (store, schema) = crate::pg::fresh_schema(&url).await;
            Some((store, (url, schema)))
        },
        |(url, schema): (String, String)| async move {
            crate::pg_support::drop_schema(&url, &schema).await;
        }
    );
}

#[cfg(feature = "sqlite")]
#[path = "../support/scratch.rs"]
mod scratch;

#[cfg(feature = "postgres")]
#[path = "../support/postgres.rs"]
mod pg_support;

#[cfg(feature = "postgres")]
mod pg {
    use orgroster::PostgresStore;

    /// A store in a schema of its own, migrated (twice: migrations are idempotent), and the
    /// schema's name.
    pub(crate) async fn fresh_schema(url: &str) -> (PostgresStore, String) {
        let schema = crate::pg_support::fresh_schema(url).await;
        let options = crate::pg_support::options(url, &schema);
        let store = PostgresStore::connect_with(options).await.expect("connect");
        store.migrate().await.expect("migrate again");
        (store, schema)
    }
}
