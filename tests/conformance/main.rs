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
    orgroster::store_conformance_tests!(
        || async {
            let path =
                std::env::temp_dir().join(format!("orgroster-conf-{}.db", uuid::Uuid::now_v7()));
            let store = orgroster::SqliteStore::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("SQLite file");
            store.migrate().await.expect("migrate");
            // Twice: migrations are idempotent.
            store.migrate().await.expect("migrate again");
            Some((store, path))
        },
        |path: std::path::PathBuf| async move {
            // The database and its WAL files (the pool's last connections may still be
            // closing: on Unix the files go anyway).
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
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
