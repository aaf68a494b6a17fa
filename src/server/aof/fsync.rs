//! The background fsync of `appendfsync everysec` (Redis's bio fsync job): one thread, at
//! most one fsync in flight; the event loop never waits for the disk.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};

/// A handle on the fsync thread (started at the first job).
#[derive(Debug, Default)]
pub struct Fsyncer {
    tx: Option<Sender<File>>,
    busy: Arc<AtomicBool>,
}

impl Fsyncer {
    /// Whether an fsync is queued or running (INFO `aof_pending_bio_fsync`).
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// Queues an fsync of `file` (a duplicate of the AOF's descriptor). Returns false when
    /// the thread cannot be started (the caller then fsyncs itself).
    pub fn submit(&mut self, file: File) -> bool {
        if self.tx.is_none() {
            let (tx, rx) = channel::<File>();
            let busy = self.busy.clone();
            let spawned = std::thread::Builder::new()
                .name("aof-fsync".into())
                .spawn(move || {
                    while let Ok(f) = rx.recv() {
                        let _ = f.sync_data();
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
