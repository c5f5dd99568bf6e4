//! What the server plugs into the runtime: a per-core connection handler and the core's context.

use std::future::Future;
use std::net::SocketAddr;

use monoio::net::TcpStream;

use super::driver::CoreDriver;
use super::shutdown::Draining;

/// Serves connections on one core. Built on that core by the factory given to
/// [`Server::run`](super::Server::run), so it need not be `Send`: it can own the core's store and
/// buffers. Each call's future is spawned as its own task on the core; the runtime counts it as
/// in flight until it completes.
pub trait ConnectionHandler: 'static {
    fn handle(&self, stream: TcpStream, peer: SocketAddr) -> impl Future<Output = ()> + 'static;
}

impl<F, Fut> ConnectionHandler for F
where
    F: Fn(TcpStream, SocketAddr) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    fn handle(&self, stream: TcpStream, peer: SocketAddr) -> impl Future<Output = ()> + 'static {
        self(stream, peer)
    }
}

/// Facts about the core a factory or handler runs on. Cheap to clone; stays on its core.
#[derive(Clone, Debug)]
pub struct CoreContext {
    pub(crate) index: usize,
    pub(crate) cores: usize,
    pub(crate) driver: CoreDriver,
    pub(crate) draining: Draining,
}

impl CoreContext {
    /// This core's number, `0..cores()`. Repository ownership is `hash(name) % cores()`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many cores the server runs.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// The driver this core runs, with the reason when it is less than asked (log it at start).
    pub fn driver(&self) -> &CoreDriver {
        &self.driver
    }

    /// Resolves when the server starts draining; keep-alive loops stop after the current request.
    pub fn draining(&self) -> &Draining {
        &self.draining
    }
}
