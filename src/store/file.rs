//! The `visits` file: its format, the directory lock, removing a crash's leftovers, and the
//! atomic, forward-only replacement of the count. No scheduling here: `commit` decides when.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::StoreError;
use super::fs::FileSystem;
use crate::validated::quote;

/// File that holds the count, as a decimal integer and a newline.
pub const VISITS_FILE: &str = "visits";
/// Prefix of the temp files of the atomic replacement (`visits.tmp.<writer>`); only the
/// lock holder ever writes them, and it removes leftovers of a crash at startup.
pub const TEMP_PREFIX: &str = "visits.tmp";
/// File held with an exclusive `flock` by the process that owns the directory.
pub const LOCK_FILE: &str = ".lock";

/// Accepts exactly what we write, digits and a newline, and tolerates a missing newline
/// (a hand-edited file). Anything else is not ours to interpret.
pub fn parse_count(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The file's content for `count`.
pub fn format_count(count: u64) -> String {
    format!("{count}\n")
}

/// The count file of one data directory, owned (locked) by this process.
pub struct CountFile {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    visits: PathBuf,
    /// Serializes renames; holds the highest count renamed into place so far.
    renamed: Mutex<Option<u64>>,
    /// The directory lock, held until `release` (or until dropped).
    lock: Mutex<Option<File>>,
}

impl CountFile {
    /// Creates the directory if needed, locks it, removes a crash's temp files and proves the
    /// directory writable by committing `count` (from `load`), so that a read-only or full
    /// volume stops startup instead of the first visit.
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<(CountFile, u64), StoreError> {
        let file = CountFile::lock(fs, dir)?;
        let count = file.load()?;
        file.replace(count)?;
        Ok((file, count))
    }

    /// Creates the directory if needed and takes its lock: no other process writes it now.
    pub fn lock(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<CountFile, StoreError> {
        fs.create_dir_all(dir)
            .map_err(|cause| StoreError::NotWritable {
                dir: dir.to_path_buf(),
                cause,
            })?;
        let lock = acquire_lock(dir)?;
        Ok(CountFile {
            fs,
            dir: dir.to_path_buf(),
            visits: dir.join(VISITS_FILE),
            renamed: Mutex::new(None),
            lock: Mutex::new(Some(lock)),
        })
    }

    /// Removes a crash's temp files and writes `count` durably (what startup and a restore
    /// do before anything else); a failure here means the directory is not writable.
    pub fn replace(&self, count: u64) -> Result<(), StoreError> {
        let not_writable = |cause| StoreError::NotWritable {
            dir: self.dir.clone(),
            cause,
        };
        self.remove_leftovers().map_err(not_writable)?;
        self.commit(&self.temp(0), count).map_err(|e| match e {
            StoreError::Io { cause, .. } => not_writable(cause),
            other => other,
        })
    }

    /// Releases the directory lock, so that a successor can take the directory over at once.
    pub fn release(&self) {
        drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    pub fn path(&self) -> &Path {
        &self.visits
    }

    /// The temp file writer `writer` uses.
    pub fn temp(&self, writer: usize) -> PathBuf {
        self.dir.join(format!("{TEMP_PREFIX}.{writer}"))
    }

    /// The count on disk: 0 when there is no file, an error when it is not a count.
    pub fn load(&self) -> Result<u64, StoreError> {
        let bytes = match self.fs.read(&self.visits) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(cause) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: self.visits.clone(),
                    cause,
                });
            }
        };
        parse_count(&bytes).ok_or_else(|| StoreError::Corrupt {
            path: self.visits.clone(),
            found: match bytes.is_empty() {
                true => "an empty file".to_owned(),
                false => quote(&bytes),
            },
        })
    }

    /// A temp file is the trace of a crash mid-commit (or of a hand restore that stopped
    /// half-way); `visits` itself is intact either way.
    fn remove_leftovers(&self) -> io::Result<()> {
        for name in self.fs.list(&self.dir)? {
            if name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX)) {
                self.fs.remove_file(&self.dir.join(name))?;
            }
        }
        Ok(())
    }

    /// Makes `count` (or a larger count committed meanwhile) durable in `visits`, so that a
    /// crash at any point leaves a complete count that never went backwards.
    ///
    /// Steps that wait on the disk (writing and fsyncing the temp file, fsyncing the
    /// directory) run concurrently across writers; only the rename is serialized. A count
    /// that another writer has overtaken is not renamed into place: its temp file is
    /// dropped, and the directory fsync that follows makes the larger count durable, which
    /// covers this one too.
    pub fn commit(&self, temp: &Path, count: u64) -> Result<(), StoreError> {
        let io_error = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |cause| StoreError::Io {
                action,
                path,
                cause,
            }
        };
        self.fs
            .write_synced(temp, format_count(count).as_bytes())
            .map_err(io_error("write and fsync", temp))?;
        {
            let mut highest = self.renamed.lock().unwrap_or_else(|p| p.into_inner());
            if highest.is_none_or(|highest| count > highest) {
                self.fs
                    .rename(temp, &self.visits)
                    .map_err(io_error("rename over", &self.visits))?;
                *highest = Some(count);
            } else {
                self.fs
                    .remove_file(temp)
                    .map_err(io_error("remove", temp))?;
            }
        }
        self.fs
            .sync_dir(&self.dir)
            .map_err(io_error("fsync the directory", &self.dir))
    }
}

fn acquire_lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let not_writable = |cause| StoreError::NotWritable {
        dir: dir.to_path_buf(),
        cause,
    };
    let mut lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(not_writable)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "holder unknown".to_string(),
                pid => format!("pid {pid}"),
            };
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(TryLockError::Error(cause)) => {
            return Err(StoreError::Io {
                action: "lock",
                path,
                cause,
            });
        }
    }
    // The pid is only a hint for the error message of a second process.
    lock.set_len(0)
        .and_then(|()| writeln!(lock, "{}", std::process::id()))
        .map_err(not_writable)?;
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_count_accepts_only_a_decimal_integer() {
        assert_eq!(parse_count(b"42\n"), Some(42));
        assert_eq!(parse_count(b"42"), Some(42));
        assert_eq!(parse_count(b"0\n"), Some(0));
        assert_eq!(
            parse_count(format_count(u64::MAX).as_bytes()),
            Some(u64::MAX)
        );
        for bad in [
            &b""[..],
            b"\n",
            b"-1\n",
            b"4 2\n",
            b"42\n\n",
            b" 42\n",
            b"abc",
            b"99999999999999999999999\n",
        ] {
            assert_eq!(parse_count(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
