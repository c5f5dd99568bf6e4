//! A lock for one core's tasks (not threads): a repository's metadata changes one at a time
//! (invariant I8) while other connections on the core go on.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Handed out in arrival order; waiters are bounded by the core's connections.
#[derive(Debug, Default)]
pub struct OwnerLock {
    locked: Cell<bool>,
    waiters: RefCell<VecDeque<Waker>>,
}

/// Held while a task changes or reads the store; releases on drop.
#[derive(Debug)]
pub struct OwnerGuard<'a> {
    lock: &'a OwnerLock,
}

impl OwnerLock {
    pub async fn lock(&self) -> OwnerGuard<'_> {
        poll_fn(|context| {
            if !self.locked.get() {
                self.locked.set(true);
                return Poll::Ready(());
            }
            // First time, or woken and beaten to it by a newcomer: wait at the back.
            self.waiters.borrow_mut().push_back(context.waker().clone());
            Poll::Pending
        })
        .await;
        OwnerGuard { lock: self }
    }
}

impl Drop for OwnerGuard<'_> {
    fn drop(&mut self) {
        self.lock.locked.set(false);
        if let Some(waker) = self.lock.waiters.borrow_mut().pop_front() {
            waker.wake();
        }
    }
}
