//! The file-system seam: every file operation of the store goes through `FileSystem`, so tests
//! inject ENOSPC, EIO on fsync, a failed rename or a stall without root or special mounts.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

/// The file operations the store needs.
pub trait FileSystem: Send + Sync + 'static {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The names of a directory's entries.
    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Creates or truncates `path`, writes `bytes` and fsyncs the file.
    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Fsyncs a directory, making the renames in it durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFileSystem;

impl FileSystem for OsFileSystem {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect()
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// One operation of the store, as a fault-injection hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// Writing and fsyncing a temp file with this content.
    WriteSynced {
        path: &'a Path,
        bytes: &'a [u8],
    },
    Rename {
        from: &'a Path,
        to: &'a Path,
    },
    SyncDir {
        dir: &'a Path,
    },
    Remove {
        path: &'a Path,
    },
}

type Hook = dyn Fn(Operation<'_>) -> io::Result<()> + Send + Sync;

/// The OS file system with a hook asked before every write-side operation: the hook may fail
/// the operation (return an error) or stall it (block) before it runs. Reads pass through.
#[derive(Clone)]
pub struct FaultInjection {
    hook: Arc<Hook>,
}

impl FaultInjection {
    pub fn new(hook: impl Fn(Operation<'_>) -> io::Result<()> + Send + Sync + 'static) -> Self {
        FaultInjection {
            hook: Arc::new(hook),
        }
    }
}

impl FileSystem for FaultInjection {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        OsFileSystem.create_dir_all(dir)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        OsFileSystem.read(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        OsFileSystem.list(dir)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        (self.hook)(Operation::Remove { path })?;
        OsFileSystem.remove_file(path)
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        (self.hook)(Operation::WriteSynced { path, bytes })?;
        OsFileSystem.write_synced(path, bytes)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        (self.hook)(Operation::Rename { from, to })?;
        OsFileSystem.rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        (self.hook)(Operation::SyncDir { dir })?;
        OsFileSystem.sync_dir(dir)
    }
}
