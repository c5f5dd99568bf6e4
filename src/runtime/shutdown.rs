//! Shutdown: the cross-thread trigger ([`Shutdown`]), each core's view of it ([`Draining`]), and
//! SIGTERM/SIGINT feeding the trigger through a self-pipe.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// Starts draining the server from any thread. Cloned freely; triggering twice is harmless.
#[derive(Clone, Debug)]
pub struct Shutdown {
    shared: Arc<ShutdownShared>,
}

#[derive(Debug)]
struct ShutdownShared {
    triggered: AtomicBool,
    /// Write ends of the wake sockets of every thread that waits for shutdown: the cores, the
    /// acceptor if there is one, and the thread running `Server::run`.
    wakes: Vec<UnixStream>,
}

impl Shutdown {
    /// `wakes` are non-blocking write ends; one byte on each tells its reader to look at
    /// [`Shutdown::is_triggered`].
    pub(crate) fn new(wakes: Vec<UnixStream>) -> Shutdown {
        let shared = ShutdownShared {
            triggered: AtomicBool::new(false),
            wakes,
        };
        Shutdown {
            shared: Arc::new(shared),
        }
    }

    /// Stop accepting, let in-flight connections finish within the grace period, then make
    /// `Server::run` return.
    pub fn trigger(&self) {
        // The flag is set before any byte is written, so a woken reader always sees it.
        if self.shared.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        for wake in &self.shared.wakes {
            wake_one(wake);
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.shared.triggered.load(Ordering::SeqCst)
    }
}

/// Writes one wake byte. A full socket already holds unread wake bytes, and a closed reader has
/// stopped waiting, so neither is an error worth reporting.
pub(crate) fn wake_one(mut wake: &UnixStream) {
    let _ = wake.write(&[1]);
}

/// A connected pair for waking a thread: the read end for the waiter, the non-blocking write end
/// for whoever wakes it.
pub(crate) fn wake_pair() -> io::Result<(UnixStream, UnixStream)> {
    let (read, write) = UnixStream::pair()?;
    write.set_nonblocking(true)?;
    Ok((read, write))
}

/// Registers SIGTERM and SIGINT to write a byte to `wake`. Returned ids unregister them.
pub(crate) fn register_signals(wake: &UnixStream) -> io::Result<Vec<signal_hook::SigId>> {
    let mut ids = Vec::new();
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        match signal_hook::low_level::pipe::register(signal, wake.try_clone()?) {
            Ok(id) => ids.push(id),
            Err(error) => {
                unregister_signals(ids);
                return Err(error);
            }
        }
    }
    Ok(ids)
}

/// SIGTERM and SIGINT registered for a server, from `Server::bind` (so a signal during start-up
/// is a clean shutdown request, not the default termination) until the server is dropped.
#[derive(Debug, Default)]
pub(crate) struct SignalRegistration(Vec<signal_hook::SigId>);

impl SignalRegistration {
    pub(crate) fn register(wake: &UnixStream) -> io::Result<SignalRegistration> {
        register_signals(wake).map(SignalRegistration)
    }
}

impl Drop for SignalRegistration {
    fn drop(&mut self) {
        unregister_signals(std::mem::take(&mut self.0));
    }
}

/// Undoes [`register_signals`]. The process keeps signal-hook's handler, which now does nothing
/// for these signals, so a signal after `Server::run` returned no longer kills the process.
pub(crate) fn unregister_signals(ids: Vec<signal_hook::SigId>) {
    for id in ids {
        signal_hook::low_level::unregister(id);
    }
}

/// One core's view of shutdown. Cheap to clone; stays on its core.
#[derive(Clone)]
pub struct Draining {
    state: Rc<DrainingState>,
}

struct DrainingState {
    started: Cell<bool>,
    /// Wakers of pending [`DrainWait`]s by key; each removes its own entry when dropped, so the
    /// map holds at most one entry per live wait.
    waiters: RefCell<BTreeMap<u64, Waker>>,
    key_next: Cell<u64>,
}

impl fmt::Debug for Draining {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Draining")
            .field("started", &self.state.started.get())
            .finish()
    }
}

impl Default for Draining {
    fn default() -> Draining {
        Draining::new()
    }
}

impl Draining {
    /// A core's drain signal, not started. The runtime makes one per core; a test serving
    /// connections without the runtime uses one that never starts.
    pub fn new() -> Draining {
        let state = DrainingState {
            started: Cell::new(false),
            waiters: RefCell::new(BTreeMap::new()),
            key_next: Cell::new(0),
        };
        Draining {
            state: Rc::new(state),
        }
    }

    /// Whether the server is draining: finish the current request, then close.
    pub fn is_draining(&self) -> bool {
        self.state.started.get()
    }

    /// Resolves once the server is draining (at once if it already is).
    pub fn wait(&self) -> DrainWait {
        DrainWait {
            draining: self.clone(),
            key: None,
        }
    }

    pub(crate) fn start(&self) {
        if self.state.started.replace(true) {
            return;
        }
        let waiters = std::mem::take(&mut *self.state.waiters.borrow_mut());
        for (_, waker) in waiters {
            waker.wake();
        }
    }
}

/// The future of [`Draining::wait`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct DrainWait {
    draining: Draining,
    key: Option<u64>,
}

impl Future for DrainWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let state = &this.draining.state;
        if state.started.get() {
            return Poll::Ready(());
        }
        let key = *this.key.get_or_insert_with(|| {
            let key = state.key_next.get();
            state.key_next.set(key + 1);
            key
        });
        state
            .waiters
            .borrow_mut()
            .insert(key, context.waker().clone());
        Poll::Pending
    }
}

impl Drop for DrainWait {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.draining.state.waiters.borrow_mut().remove(&key);
        }
    }
}
