//! The background fsync of `appendfsync everysec` (Redis's bio fsync job): one thread, at
//! most one fsync in flight; the event loop never waits for the disk.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Sender, channel};

/// A handle on the fsync thread (started at the first job).
#[derive(Debug, Default)]
pub struct Fsyncer {
    tx: Option<Sender<File>>,
    busy: Arc<AtomicBool>,
    /// The errno of the last background fsync when it failed, 0 when it succeeded (Redis's
    /// aof_bio_fsync_status / aof_bio_fsync_errno).
    errno: Arc<AtomicI32>,
}

impl Fsyncer {
    /// Whether an fsync is queued or running (INFO `aof_pending_bio_fsync`).
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// The errno of the last background fsync if it failed.
    pub fn failed(&self) -> Option<i32> {
        let e = self.errno.load(Ordering::Acquire);
        (e != 0).then_some(e)
    }

    /// Queues an fsync of `file` (a duplicate of the AOF's descriptor). Returns false when
    /// the thread cannot be started (the caller then fsyncs itself).
    pub fn submit(&mut self, file: File) -> bool {
        if self.tx.is_none() {
            let (tx, rx) = channel::<File>();
            let busy = self.busy.clone();
            let errno = self.errno.clone();
            let spawned = std::thread::Builder::new()
                .name("aof-fsync".into())
                .spawn(move || {
                    while let Ok(f) = rx.recv() {
                        let code = match f.sync_data() {
                            Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
                            Ok(()) => 0,
                        };
                        // As Redis's bio: EBADF/EINVAL are not a failed fsync.
                        let code = if code == libc::EBADF || code == libc::EINVAL {
                            0
                        } else {
                            code
                        };
                        if errno.swap(code, Ordering::AcqRel) == 0 && code != 0 {
                            crate::warning!(
                                "Fail to fsync the AOF file: {}",
                                String::from_utf8_lossy(crate::server::log::errno_text(code))
                            );
                        }
                        drop(f);
                        busy.store(false, Ordering::Release);
                    }
                });
            if spawned.is_err() {
                return false;
            }
            self.tx = Some(tx);
        }
        self.busy.store(true, Ordering::Release);
        match self.tx.as_ref().map(|tx| tx.send(file)) {
            Some(Ok(())) => true,
            _ => {
                self.busy.store(false, Ordering::Release);
                self.tx = None;
                false
            }
        }
    }
}
