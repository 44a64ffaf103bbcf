//! A directory of scratch SQLite files, removed with everything in it when dropped. Benches
//! make a database file per store they measure (hundreds of megabytes each after a run), so
//! each bench function keeps them in one of these rather than leaving them in the temp dir;
//! the conformance suite's SQLite-file cases each take one. Included with `#[path]`.

#![allow(dead_code, clippy::expect_used)]

use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new directory `orgroster-<tag>-<uuid>` in the system temp dir.
    pub(crate) fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("orgroster-{tag}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir(&dir).expect("a scratch directory in the temp dir");
        Self(dir)
    }

    /// The directory, for makers that outlive a borrow of it.
    pub(crate) fn path(&self) -> PathBuf {
        self.0.clone()
    }
}

/// The URL of a new SQLite file in `dir`.
pub(crate) fn sqlite_url(dir: &Path) -> String {
    let path = dir.join(format!("{}.db", uuid::Uuid::now_v7()));
    format!("sqlite://{}", path.display())
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: on Unix the files go even while a connection still has one open.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
