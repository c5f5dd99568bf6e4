//! One core: its runtime, its listener or hand-off queue, its connections, and its drain.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdTcpListener, TcpStream as StdTcpStream};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use monoio::io::AsyncReadRent;
use monoio::net::{TcpListener, TcpStream, UnixStream};

use super::config::RuntimeConfig;
use super::driver::{self, CoreDriver, DriverKind};
use super::error::{RunError, StartError};
use super::handler::{ConnectionHandler, CoreContext};
use super::listen::{self, ACCEPT_ERROR_PAUSE, Handoff, accept_error_is_per_connection};
use super::shutdown::{Draining, Shutdown};

/// Handed-off connections a core adopts before letting its other tasks run.
const HANDOFF_BATCH_MAX: usize = 64;

/// How long the drain waits for cut connections' tasks to end; they end at their next poll, so
/// this bound is only reached if a handler blocks its thread.
const CUT_WAIT: Duration = Duration::from_secs(1);

/// How long the accept loop waits, once draining, for the stopped listener to end the pending
/// accept before dropping it. Shutting a listener down ends its accepts at once on Linux.
const LISTENER_STOP_WAIT: Duration = Duration::from_millis(500);

/// How long, once draining, a core at its connection limit waits for a slot for the connections
/// still queued on its listener; those left when it passes are reset as the listener closes.
const DRAIN_ACCEPT_WAIT: Duration = Duration::from_secs(1);

/// Bytes read from the wake socket at once; each byte is only a nudge.
const WAKE_READ_BYTES: usize = 64;

/// What a core thread starts with.
#[derive(Debug)]
pub(crate) struct CoreSetup {
    pub(crate) index: usize,
    pub(crate) cores: usize,
    /// This core's own `SO_REUSEPORT` listener, or `None` when an acceptor hands connections.
    pub(crate) listener: Option<StdTcpListener>,
    pub(crate) handoff: Option<mpsc::Receiver<Handoff>>,
    /// Read end of this core's wake socket: a byte means shutdown or a hand-off.
    pub(crate) wake: StdUnixStream,
    pub(crate) shutdown: Shutdown,
}

/// How a core ended.
#[derive(Debug)]
pub(crate) struct CoreOutcome {
    pub(crate) driver: CoreDriver,
    pub(crate) connections_cut: usize,
}

/// Runs one core on the calling thread until it has drained.
pub(crate) fn run<F, Fut, H>(
    setup: CoreSetup,
    config: &RuntimeConfig,
    factory: &F,
) -> Result<CoreOutcome, RunError>
where
    F: Fn(CoreContext) -> Fut,
    Fut: Future<Output = Result<H, StartError>>,
    H: ConnectionHandler,
{
    let core = setup.index;
    let (mut runtime, driver) = driver::build(config.driver, config.io_uring_entries)
        .map_err(|source| RunError::Driver { core, source })?;
    assert_eq!(
        runtime.kind(),
        driver.kind,
        "the report names the driver that was built"
    );
    // Cut connections' tasks have ended by the time this returns; dropping the runtime submits
    // the closes still queued in its ring.
    runtime.block_on(serve_core(
        setup,
        driver,
        config.grace,
        config.connections_per_core_max,
        factory,
    ))
}

async fn serve_core<F, Fut, H>(
    setup: CoreSetup,
    driver: CoreDriver,
    grace: Duration,
    connections_max: usize,
    factory: &F,
) -> Result<CoreOutcome, RunError>
where
    F: Fn(CoreContext) -> Fut,
    Fut: Future<Output = Result<H, StartError>>,
    H: ConnectionHandler,
{
    let core = setup.index;
    let kind = driver.kind;
    let draining = Draining::new();
    let context = CoreContext {
        index: core,
        cores: setup.cores,
        driver: driver.clone(),
        draining: draining.clone(),
    };
    let handler = factory(context)
        .await
        .map_err(|source| RunError::CoreStart { core, source })?;
    let handler = Rc::new(handler);
    assert!(connections_max > 0, "a core serves at least one connection");
    let tracker = Rc::new(ConnectionTracker::new(connections_max));

    let setup_error = |what| move |source| RunError::Setup { what, source };
    // The legacy driver needs non-blocking sockets. io_uring gets blocking ones, so that a read
    // waits in the kernel instead of possibly completing with EAGAIN.
    let non_blocking = kind == DriverKind::Legacy;
    setup
        .wake
        .set_nonblocking(non_blocking)
        .map_err(setup_error("a core's wake socket"))?;
    let wake = UnixStream::from_std(setup.wake).map_err(setup_error("a core's wake socket"))?;
    let listener = match setup.listener {
        Some(listener) => {
            listener
                .set_nonblocking(non_blocking)
                .map_err(setup_error("a core's listener"))?;
            // A second descriptor of the same socket, to stop it while an accept is pending.
            let stopper = listener
                .try_clone()
                .map_err(setup_error("a core's listener"))?;
            let listener =
                TcpListener::from_std(listener).map_err(setup_error("a core's listener"))?;
            Some((listener, stopper))
        }
        None => None,
    };

    let control = Control {
        wake,
        handoff: setup.handoff,
        shutdown: setup.shutdown,
        draining: draining.clone(),
        handler: handler.clone(),
        tracker: tracker.clone(),
        kind,
    };
    // Ends once draining has started and the acceptor's last hand-offs are adopted.
    let control = monoio::spawn(control.run());

    if let Some((listener, stopper)) = listener {
        monoio::spawn(stop_listener_when_draining(
            stopper,
            draining.clone(),
            handler.clone(),
            tracker.clone(),
            kind,
        ));
        accept_until_draining(listener, &draining, &handler, &tracker).await;
    }
    control.await;
    // No connection arrives from here on; what remains is letting open connections finish.
    let mut connections_cut = 0;
    if monoio::time::timeout(grace, tracker.all_closed())
        .await
        .is_err()
    {
        connections_cut = tracker.open_count();
        tracker.cut_all();
        // Cut tasks end at their next poll; this only gives them that poll.
        let _ = monoio::time::timeout(CUT_WAIT, tracker.all_closed()).await;
    }
    Ok(CoreOutcome {
        driver,
        connections_cut,
    })
}

/// Accepts until the drain has stopped the listener.
///
/// The pending accept is ended by `stop_listener_when_draining` rather than dropped: a dropped
/// io_uring accept can still complete in the kernel, and the connection it accepted would then
/// stay open with no owner.
async fn accept_until_draining<H: ConnectionHandler>(
    listener: TcpListener,
    draining: &Draining,
    handler: &Rc<H>,
    tracker: &Rc<ConnectionTracker>,
) {
    // Runs until shutdown: every pass waits for a connection or the stopped listener.
    loop {
        // At the limit, queued connections wait in the kernel's backlog until one closes.
        monoio::select! {
            () = tracker.below_limit() => {},
            () = listener_stop_overdue(draining) => return,
        }
        monoio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Small responses (HEAD, manifest GET) must not wait for Nagle's timer.
                    let _ = stream.set_nodelay(true);
                    // Accepted, so served, even if the drain began meanwhile.
                    serve_connection(stream, peer, handler.as_ref(), tracker);
                }
                Err(_) if draining.is_draining() => return,
                Err(error) if accept_error_is_per_connection(&error) => {}
                Err(_) => monoio::time::sleep(ACCEPT_ERROR_PAUSE).await,
            },
            () = listener_stop_overdue(draining) => return,
        }
        if draining.is_draining() {
            return;
        }
    }
}

/// When the drain starts: serves the connections already queued on the listener, then shuts
/// the listening socket down, so that SO_REUSEPORT stops sending it new ones and the pending
/// accept fails, which ends the accept loop. Only what arrives in between, or what finds the
/// core at its connection limit, is reset by the kernel.
async fn stop_listener_when_draining<H: ConnectionHandler>(
    stopper: StdTcpListener,
    draining: Draining,
    handler: Rc<H>,
    tracker: Rc<ConnectionTracker>,
    kind: DriverKind,
) {
    draining.wait().await;
    // The descriptor shares its file with the ring's listener: the pending accept may take one
    // of the queued connections first, and the accept loop then serves it instead.
    if stopper.set_nonblocking(true).is_ok() {
        let deadline = monoio::time::Instant::now() + DRAIN_ACCEPT_WAIT;
        for _ in 0..listen::QUEUED_AT_DRAIN_MAX {
            if tracker.at_limit() {
                // Idle connections close as the drain begins, so a slot usually frees soon.
                monoio::select! {
                    () = tracker.below_limit() => {},
                    () = monoio::time::sleep_until(deadline) => break,
                }
            }
            let Some((stream, peer)) = listen::accept_queued(&stopper) else {
                break;
            };
            if let Ok(stream) = adopt(stream, kind) {
                serve_connection(stream, peer, handler.as_ref(), &tracker);
            }
        }
    }
    // On failure, `listener_stop_overdue` ends the accept loop instead.
    let _ = socket2::SockRef::from(&stopper).shutdown(std::net::Shutdown::Read);
}

/// Resolves a while after the listener should have been shut down, in case that did not end
/// the pending accept; the accept is then dropped instead.
async fn listener_stop_overdue(draining: &Draining) {
    draining.wait().await;
    monoio::time::sleep(DRAIN_ACCEPT_WAIT + LISTENER_STOP_WAIT).await;
}

/// Spawns the handler's future for one connection as its own task, counted until it completes.
fn serve_connection<H: ConnectionHandler>(
    stream: TcpStream,
    peer: SocketAddr,
    handler: &H,
    tracker: &Rc<ConnectionTracker>,
) {
    let open = tracker.open();
    let connection = handler.handle(stream, peer);
    monoio::spawn(async move {
        // Locals drop in reverse order: the connection's future (and its socket) goes before
        // the tracker forgets the connection, so the drain never ends with a socket still open.
        let mut open = open;
        let mut connection = std::pin::pin!(connection);
        std::future::poll_fn(|context| open.poll_connection(connection.as_mut(), context)).await;
    });
}

/// The task that listens to the core's wake socket: adopts handed-off connections and starts
/// draining when shutdown is triggered.
struct Control<H> {
    wake: UnixStream,
    handoff: Option<mpsc::Receiver<Handoff>>,
    shutdown: Shutdown,
    draining: Draining,
    handler: Rc<H>,
    tracker: Rc<ConnectionTracker>,
    kind: DriverKind,
}

impl<H: ConnectionHandler> Control<H> {
    async fn run(mut self) {
        let mut buffer = Vec::with_capacity(WAKE_READ_BYTES);
        // Runs until shutdown: every pass waits for a wake byte unless hand-offs are pending.
        loop {
            // Hand-offs first, so connections accepted before the trigger are still served.
            let handoffs = self.adopt_handoffs();
            if self.shutdown.is_triggered() {
                self.draining.start();
                if handoffs != Handoffs::Ended {
                    self.adopt_until_acceptor_ends().await;
                }
                return;
            }
            if handoffs == Handoffs::More {
                yield_now().await;
                continue;
            }
            let (result, returned) = self.wake.read(buffer).await;
            buffer = returned;
            buffer.clear();
            if !matches!(result, Ok(count) if count > 0) {
                // The write ends live in the Shutdown, which outlives the cores: a closed or
                // failing wake socket means the server is going away.
                self.draining.start();
                return;
            }
        }
    }

    /// Once draining: adopts what the acceptor hands off from its listener's queue, until it
    /// ends and drops its queues, or for `LISTENER_STOP_WAIT` if it does not.
    async fn adopt_until_acceptor_ends(&mut self) {
        let adopting = async {
            // Bounded by the timeout around it: every pass adopts or waits for a wake byte.
            loop {
                match self.adopt_handoffs() {
                    Handoffs::Ended => return,
                    Handoffs::More => {
                        yield_now().await;
                        continue;
                    }
                    Handoffs::Empty => {}
                }
                let (result, _) = self.wake.read(Vec::with_capacity(WAKE_READ_BYTES)).await;
                if !matches!(result, Ok(count) if count > 0) {
                    // Without a wake socket, whatever is queued is adopted once more.
                    self.adopt_handoffs();
                    return;
                }
            }
        };
        let _ = monoio::time::timeout(LISTENER_STOP_WAIT, adopting).await;
    }

    /// Adopts up to a batch of handed-off connections.
    fn adopt_handoffs(&self) -> Handoffs {
        let Some(receiver) = &self.handoff else {
            return Handoffs::Ended;
        };
        for _ in 0..HANDOFF_BATCH_MAX {
            let (stream, peer) = match receiver.try_recv() {
                Ok(handoff) => handoff,
                Err(mpsc::TryRecvError::Empty) => return Handoffs::Empty,
                Err(mpsc::TryRecvError::Disconnected) => return Handoffs::Ended,
            };
            // The acceptor cannot see this core's count, so over the limit the connection is
            // closed at once, as is one that cannot be adopted; the client retries.
            if self.tracker.at_limit() {
                tracing::warn!(
                    peer = %peer,
                    "connection closed: this core already serves {} connections",
                    self.tracker.open_count()
                );
                continue;
            }
            if let Ok(stream) = adopt(stream, self.kind) {
                serve_connection(stream, peer, self.handler.as_ref(), &self.tracker);
            }
        }
        Handoffs::More
    }
}

/// What a pass over the hand-off queue left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handoffs {
    /// The queue is empty for now.
    Empty,
    /// A batch was adopted; more may be waiting.
    More,
    /// No acceptor hands off to this core, or it has ended.
    Ended,
}

fn adopt(stream: StdTcpStream, kind: DriverKind) -> std::io::Result<TcpStream> {
    // Accepted sockets inherit the listener's O_NONBLOCK on some systems and not on others.
    stream.set_nonblocking(kind == DriverKind::Legacy)?;
    TcpStream::from_std(stream)
}

/// Lets the core's other tasks run once before the caller continues.
fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |context| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        context.waker().wake_by_ref();
        Poll::Pending
    })
}

/// A core's open connections, so the drain can wait for the last one and cut the rest when the
/// grace period ends.
struct ConnectionTracker {
    /// Open connections by key, with their task's waker once the task has been polled.
    connections: RefCell<BTreeMap<u64, Option<Waker>>>,
    key_next: Cell<u64>,
    /// Set when the grace period is over: every connection task ends at its next poll.
    cut: Cell<bool>,
    /// The drain's waker, set while it waits for the last connection to close.
    all_closed_waker: RefCell<Option<Waker>>,
    /// Open connections the core serves at once.
    limit: usize,
    /// The accept loop's waker, set while it waits for a connection to close at the limit.
    below_limit_waker: RefCell<Option<Waker>>,
}

impl ConnectionTracker {
    fn new(limit: usize) -> ConnectionTracker {
        ConnectionTracker {
            connections: RefCell::new(BTreeMap::new()),
            key_next: Cell::new(0),
            cut: Cell::new(false),
            all_closed_waker: RefCell::new(None),
            limit,
            below_limit_waker: RefCell::new(None),
        }
    }

    fn at_limit(&self) -> bool {
        self.open_count() >= self.limit
    }

    /// Resolves once the core serves fewer connections than its limit.
    fn below_limit(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |context: &mut Context<'_>| {
            if !self.at_limit() {
                return Poll::Ready(());
            }
            *self.below_limit_waker.borrow_mut() = Some(context.waker().clone());
            Poll::Pending
        })
    }

    fn open(self: &Rc<Self>) -> OpenConnection {
        let key = self.key_next.get();
        self.key_next.set(key + 1);
        let previous = self.connections.borrow_mut().insert(key, None);
        assert!(previous.is_none(), "connection keys are unique");
        OpenConnection {
            tracker: self.clone(),
            key,
            waker: None,
        }
    }

    fn open_count(&self) -> usize {
        self.connections.borrow().len()
    }

    fn all_closed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |context: &mut Context<'_>| {
            if self.connections.borrow().is_empty() {
                return Poll::Ready(());
            }
            *self.all_closed_waker.borrow_mut() = Some(context.waker().clone());
            Poll::Pending
        })
    }

    /// Ends every connection task at its next poll, which drops (and so closes) its socket.
    fn cut_all(&self) {
        self.cut.set(true);
        let wakers: Vec<Waker> = self
            .connections
            .borrow_mut()
            .values_mut()
            .filter_map(Option::take)
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }
}

/// One connection as the tracker sees it; dropping it (the task ended or was dropped) removes
/// the connection.
struct OpenConnection {
    tracker: Rc<ConnectionTracker>,
    key: u64,
    /// The waker last handed to the tracker, to skip re-registering an unchanged one.
    waker: Option<Waker>,
}

impl OpenConnection {
    /// Polls the connection's future unless the grace period is over.
    fn poll_connection<Fut: Future<Output = ()>>(
        &mut self,
        connection: Pin<&mut Fut>,
        context: &mut Context<'_>,
    ) -> Poll<()> {
        if self.tracker.cut.get() {
            return Poll::Ready(());
        }
        let unchanged = self
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(context.waker()));
        if !unchanged {
            let waker = context.waker().clone();
            self.tracker
                .connections
                .borrow_mut()
                .insert(self.key, Some(waker.clone()));
            self.waker = Some(waker);
        }
        connection.poll(context)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut connections = self.tracker.connections.borrow_mut();
        let removed = connections.remove(&self.key);
        assert!(removed.is_some(), "every OpenConnection is tracked once");
        if connections.len() < self.tracker.limit
            && let Some(waker) = self.tracker.below_limit_waker.borrow_mut().take()
        {
            waker.wake();
        }
        if connections.is_empty()
            && let Some(waker) = self.tracker.all_closed_waker.borrow_mut().take()
        {
            waker.wake();
        }
    }
}
