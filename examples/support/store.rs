//! What the examples share: opening the store named on the command line, and the key that
//! invitation links are derived from.

use std::sync::Arc;

use orgroster::{DynStore, LinkKey, MemoryStore};

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

/// The key invitation links are derived from (spec: INV-6). A host keeps it where it keeps its
/// other secrets — a secret manager, or an environment variable filled from one — and never
/// in the database: a copy of the database then opens no link. Here: `ORGROSTER_LINK_KEY`
/// (standard base64 of 32 bytes) when set; otherwise a development key in a file beside the
/// example's database, made on first use, so that mail queued by one run can still be sent
/// by the next.
pub(crate) fn link_key() -> Res<LinkKey> {
    if let Ok(text) = std::env::var("ORGROSTER_LINK_KEY") {
        return Ok(LinkKey::from_base64(&text)?);
    }
    let path = std::env::temp_dir().join("orgroster-examples-link-key");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(LinkKey::from_base64(&text)?),
        Err(_) => {
            let key = LinkKey::generate()?;
            std::fs::write(&path, key.to_base64())?;
            Ok(key)
        }
    }
}
