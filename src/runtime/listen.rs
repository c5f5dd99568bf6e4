//! Listening sockets, and the acceptor thread that hands connections to the cores round-robin
//! when the cores do not each accept on their own `SO_REUSEPORT` socket.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::shutdown::{Shutdown, wake_one};

/// Pending connections the kernel queues per listener before refusing more; the kernel caps it
/// at `net.core.somaxconn`. Bursts of image pulls open many connections at once.
pub(crate) const LISTEN_BACKLOG: i32 = 1024;

/// Connections a listener's queue is emptied of when the drain starts: a backlog's worth, since
/// on a port still in use it could otherwise refill as fast as it is emptied.
pub(crate) const QUEUED_AT_DRAIN_MAX: usize = LISTEN_BACKLOG as usize;

/// Connections accepted per readiness wake-up before the acceptor checks for shutdown again.
pub(crate) const ACCEPT_BATCH_MAX: usize = 64;

/// Pause after an accept error that is not about one connection (out of descriptors): retrying
/// at once would spin, and descriptors free up as connections close.
pub(crate) const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A connection accepted by the acceptor thread on its way to a core.
pub(crate) type Handoff = (TcpStream, SocketAddr);

/// Binds one listening socket. SO_REUSEADDR lets a restarted server bind while old connections
/// sit in TIME_WAIT; SO_REUSEPORT lets every core bind the same address.
pub(crate) fn bind(address: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = reusable_socket(address)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// A TCP socket of `address`'s family with SO_REUSEADDR.
fn reusable_socket(address: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// Fails with `AddrInUse` when a socket already listens on `address`, even one bound with
/// `SO_REUSEPORT` by another server of the same user, which the cores' own `SO_REUSEPORT` binds
/// would join silently (and then split the connections with). A probe without `SO_REUSEPORT`
/// cannot join such a group, so its bind tells; it is closed before the cores bind. Two servers
/// starting within the same instant can both pass; the storage root's lock stops the second.
pub(crate) fn ensure_unused(address: SocketAddr) -> io::Result<()> {
    // SO_REUSEADDR lets the probe bind over connections of an earlier server still in
    // TIME_WAIT; Linux refuses it all the same while a socket listens there.
    let probe = reusable_socket(address)?;
    probe.bind(&address.into())
}

/// Whether an accept error concerns only the connection being accepted, so the next accept can
/// follow at once.
pub(crate) fn accept_error_is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The cores' ends of the hand-off: one queue and one wake socket per core.
#[derive(Debug)]
pub(crate) struct CoreQueues {
    pub(crate) senders: Vec<mpsc::Sender<Handoff>>,
    pub(crate) wakes: Vec<UnixStream>,
}

/// Accepts until shutdown, handing each connection to the next core. `wake` becomes readable
/// when shutdown is triggered.
pub(crate) fn run_acceptor(
    listener: TcpListener,
    wake: UnixStream,
    shutdown: &Shutdown,
    queues: &CoreQueues,
) -> io::Result<()> {
    assert_eq!(
        queues.senders.len(),
        queues.wakes.len(),
        "one queue and one wake per core"
    );
    assert!(!queues.senders.is_empty(), "at least one core");
    listener.set_nonblocking(true)?;
    wake.set_nonblocking(true)?;
    let mut core_next = 0;
    // Runs until shutdown; every pass blocks in poll until a connection or the wake arrives.
    while !shutdown.is_triggered() {
        wait_readable(&listener, &wake)?;
        drain_wake(&wake);
        for _ in 0..ACCEPT_BATCH_MAX {
            match listener.accept() {
                Ok((stream, peer)) => {
                    // Small responses (HEAD, manifest GET) must not wait for Nagle's timer.
                    let _ = stream.set_nodelay(true);
                    // A core that has stopped drops its receiver: the connection closes.
                    let _ = queues.senders[core_next].send((stream, peer));
                    wake_one(&queues.wakes[core_next]);
                    core_next = (core_next + 1) % queues.senders.len();
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if accept_error_is_per_connection(&error) => {}
                Err(_) => {
                    std::thread::sleep(ACCEPT_ERROR_PAUSE);
                    break;
                }
            }
        }
    }
    // Connections queued before the trigger are handed off too (the cores adopt until this
    // thread ends and drops the queues): closing the listener over them would reset them.
    for _ in 0..QUEUED_AT_DRAIN_MAX {
        let Some((stream, peer)) = accept_queued(&listener) else {
            break;
        };
        let _ = queues.senders[core_next].send((stream, peer));
        wake_one(&queues.wakes[core_next]);
        core_next = (core_next + 1) % queues.senders.len();
    }
    Ok(())
}

/// Accepts a connection already queued on `listener`, a non-blocking one, without waiting:
/// `None` once the queue is empty (or the listener fails). Used when the drain starts, for the
/// connections that finished their handshake while the server was still serving; many have
/// sent a request, and closing the listener over them would reset them.
pub(crate) fn accept_queued(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    // Bounded: each pass accepts, or skips a connection that failed in the queue, or ends.
    for _ in 0..QUEUED_AT_DRAIN_MAX {
        match listener.accept() {
            Ok((stream, peer)) => {
                // Small responses (HEAD, manifest GET) must not wait for Nagle's timer.
                let _ = stream.set_nodelay(true);
                return Some((stream, peer));
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return None,
            Err(error) if accept_error_is_per_connection(&error) => {}
            Err(_) => return None,
        }
    }
    None
}

fn drain_wake(mut wake: &UnixStream) {
    let mut buffer = [0u8; 64];
    // Only Shutdown::trigger writes here, once; two reads empty the socket.
    for _ in 0..2 {
        match wake.read(&mut buffer) {
            Ok(count) if count > 0 => {}
            _ => return,
        }
    }
}

/// Blocks until the listener has a connection or the wake socket a byte (or a signal interrupts).
fn wait_readable(listener: &TcpListener, wake: &UnixStream) -> io::Result<()> {
    let mut descriptors = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let count = libc::nfds_t::try_from(descriptors.len()).expect("two descriptors fit nfds_t");
    // SAFETY: `descriptors` is a live, writable array of `count` pollfd structs for the whole
    // call, and both descriptors belong to objects borrowed for the call, so they stay open.
    let result = unsafe { libc::poll(descriptors.as_mut_ptr(), count, -1) };
    if result < 0 {
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    Ok(())
}
