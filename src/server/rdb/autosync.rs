//! Incremental fsync while a big file is written (Redis's `rioSetAutoSync` with
//! `REDIS_AUTOSYNC_BYTES`, 4 MB): `rdb-save-incremental-fsync` for dumps and
//! `aof-rewrite-incremental-fsync` for AOF bases, so the kernel never holds the whole file
//! as dirty pages to flush in one go at the final fsync.

use std::fs::File;
use std::io::{self, Write};

/// Bytes written between two fsyncs (Redis 7.0's REDIS_AUTOSYNC_BYTES).
pub const AUTOSYNC_BYTES: u64 = 4 * 1024 * 1024;

/// A file that is fdatasync'ed every [`AUTOSYNC_BYTES`] written, when enabled.
pub struct AutoSync {
    file: File,
    enabled: bool,
    unsynced: u64,
}

impl AutoSync {
    /// Wraps `file`; `enabled` as the `*-incremental-fsync` setting says.
    pub fn new(file: File, enabled: bool) -> AutoSync {
        AutoSync {
            file,
            enabled,
            unsynced: 0,
        }
    }

    /// The file back (its final fsync is the caller's).
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Write for AutoSync {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if self.enabled {
            self.unsynced += n as u64;
            if self.unsynced >= AUTOSYNC_BYTES {
                self.file.sync_data()?;
                self.unsynced = 0;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
