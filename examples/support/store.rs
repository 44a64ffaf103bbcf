//! What the examples share: opening the store named on the command line.

use std::sync::Arc;

use orgroster::{DynStore, MemoryStore};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The store named by `--database`: `sqlite://…`, `sqlite::memory:`, `memory` or, with the
/// `postgres` feature, `postgres://…`; by default `default_file` in the temp directory.
pub(crate) async fn open_store(default_file: &str) -> Res<Arc<DynStore>> {
    let args: Vec<String> = std::env::args().collect();
    let url = match args.iter().position(|a| a == "--database") {
        Some(i) => args.get(i + 1).cloned().ok_or("--database needs a URL")?,
        None => {
            let path = std::env::temp_dir().join(default_file);
            format!("sqlite://{}", path.display())
        }
    };
    println!("Store: {url}");
    if url == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = orgroster::PostgresStore::connect(&url).await?;
        store.migrate().await?;
        return Ok(Arc::new(store));
    }
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        let store = orgroster::SqliteStore::connect(&url).await?;
        store.migrate().await?;
        return Ok(Arc::new(store));
    }
    Err(format!("unsupported --database {url:?} (enable the feature for its store)").into())
}
