//! Where a persistent [`NamingService`](super::NamingService) keeps its
//! bindings: a [`NamingStore`] gets the whole graph as one snapshot after
//! every change, before the change is answered, and gives the last one
//! back at start-up. [`FileStore`] keeps it in one file, replaced
//! atomically.
//!
//! This is the one place in the naming module that does I/O (the file
//! system); the snapshot itself is encoded and decoded sans-IO.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// The largest snapshot a store reads back.
pub const MAX_SNAPSHOT_BYTES: u64 = 128 * 1024 * 1024;

/// Durable storage for naming snapshots.
pub trait NamingStore: Send + Sync + 'static {
    /// The last snapshot saved, or `None` if there is none yet.
    fn load(&self) -> std::io::Result<Option<Bytes>>;

    /// Replaces the saved snapshot; returns once it is durable.
    fn save(&self, snapshot: &[u8]) -> std::io::Result<()>;
}

/// A snapshot in one file: written to `FILE.tmp`, synced, renamed over
/// `FILE`, then the directory synced, so a crash (`kill -9`, power loss)
/// leaves either the old or the new snapshot, never a torn one.
#[derive(Clone, Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The name of the snapshot file in a data directory.
    pub const FILE_NAME: &'static str = "naming.snapshot";

    /// A store in the file `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// A store in [`FILE_NAME`](Self::FILE_NAME) of the directory `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self::new(dir.join(Self::FILE_NAME))
    }

    /// The snapshot file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        self.path.with_file_name(name)
    }
}

impl NamingStore for FileStore {
    fn load(&self) -> std::io::Result<Option<Bytes>> {
        use std::io::Read;
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut data = Vec::new();
        file.take(MAX_SNAPSHOT_BYTES + 1).read_to_end(&mut data)?;
        if data.len() as u64 > MAX_SNAPSHOT_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is larger than {MAX_SNAPSHOT_BYTES} bytes",
                    self.path.display()
                ),
            ));
        }
        Ok(Some(Bytes::from(data)))
    }

    fn save(&self, snapshot: &[u8]) -> std::io::Result<()> {
        let temp = self.temp_path();
        {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(snapshot)?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, &self.path)?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_store_replaces_its_snapshot() {
        let dir = std::env::temp_dir().join(format!("ithaca-naming-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = FileStore::in_dir(&dir);
        let _ = std::fs::remove_file(store.path());
        assert_eq!(store.load().unwrap(), None);
        store.save(b"one").unwrap();
        store.save(b"two").unwrap();
        assert_eq!(store.load().unwrap().as_deref(), Some(&b"two"[..]));
        assert!(!store.temp_path().exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
