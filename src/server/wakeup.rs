//! A wake-up with one waiter: what a connection task waits on besides its socket (CLIENT
//! KILL, messages pushed by other clients, the busy-script door).
//!
//! `tokio::sync::Notify` keeps a list of waiters behind a mutex, and polling a registered
//! `Notified` that has not fired takes that mutex: a connection task polls its wake-ups on
//! every turn of its loop, twice per unpipelined request, so that lock was the largest
//! single cost of the loop (about 100 instructions per poll). A connection's wake-ups only
//! ever have one waiter (the connection's own task), so a flag and an [`AtomicWaker`] do:
//! a poll that finds nothing costs a few atomic operations, with no lock.
//!
//! Semantics are `Notify::notify_one`'s with a single waiter: a wake-up given while nobody
//! waits is kept (one permit) and completes the next wait at once.

use futures::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// A wake-up for one waiting task (see the module doc).
#[derive(Debug, Default)]
pub struct Wakeup {
    /// The waiting task.
    waker: AtomicWaker,
    /// A wake-up was given and not yet taken.
    set: AtomicBool,
}

impl Wakeup {
    /// A wake-up with nothing pending.
    pub fn new() -> Wakeup {
        Wakeup::default()
    }

    /// Wakes the waiting task, or, if none waits, makes the next wait complete at once.
    pub fn notify_one(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Waits for a wake-up (taking it). The future holds no state of its own: creating and
    /// dropping one costs nothing, and dropping it loses no wake-up.
    pub fn notified(&self) -> Notified<'_> {
        Notified(self)
    }

    /// Takes a pending wake-up, if there is one, without waiting.
    pub fn take(&self) -> bool {
        self.set.load(Ordering::Relaxed) && self.set.swap(false, Ordering::Acquire)
    }
}

/// The future of [`Wakeup::notified`].
#[derive(Debug)]
pub struct Notified<'a>(&'a Wakeup);

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let w = self.0;
        if w.take() {
            return Poll::Ready(());
        }
        // Registered before the second look, so a wake-up given in between is not lost:
        // either this look sees the flag, or `notify_one`'s `wake` sees this waker.
        w.waker.register(cx.waker());
        if w.set.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_wakeup_given_before_the_wait_completes_it_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let w = Wakeup::new();
            w.notify_one();
            w.notify_one();
            w.notified().await;
            // One permit, as Notify: the second wait does not complete.
            assert!(futures::FutureExt::now_or_never(w.notified()).is_none());
        });
    }

    #[test]
    fn a_waiting_task_is_woken_from_another_thread() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let w = Arc::new(Wakeup::new());
            for _ in 0..200 {
                let waiter = tokio::spawn({
                    let w = w.clone();
                    async move { w.notified().await }
                });
                tokio::task::yield_now().await;
                w.notify_one();
                waiter.await.unwrap();
            }
        });
    }

    #[test]
    fn take_consumes_a_pending_wakeup() {
        let w = Wakeup::new();
        assert!(!w.take());
        w.notify_one();
        assert!(w.take());
        assert!(!w.take());
    }
}
