//! The thread-per-core runtime end to end: echo servers on both drivers and both accept modes,
//! driver fallback, start-up failures, and graceful shutdown by trigger and by SIGTERM.

use std::io::{Read, Write};
use std::net::{Shutdown as SocketShutdown, SocketAddr, TcpStream as StdTcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use zot::runtime::{
    AcceptMode, ConnectionHandler, CoreContext, DriverChoice, DriverKind, RunError, RunReport,
    RuntimeConfig, Server, Shutdown, StartError,
};

/// Longest any client waits for the server; a test that hits it has failed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per echo test: enough that SO_REUSEPORT's hash puts some on each of two cores
/// (all 16 on one core has probability 2^-15).
const CLIENTS: usize = 16;
/// Reads and writes per connection a test handler serves before it gives up.
const HANDLER_ROUNDS_MAX: usize = 1000;

fn config(driver: DriverChoice, accept: AcceptMode) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.threads = 2;
    config.driver = driver;
    config.accept = accept;
    config.handle_signals = false;
    config.grace = Duration::from_secs(3);
    config
}

struct Running {
    address: SocketAddr,
    shutdown: Shutdown,
    thread: thread::JoinHandle<Result<RunReport, RunError>>,
}

impl Running {
    fn stop(self) -> Result<RunReport, RunError> {
        self.shutdown.trigger();
        self.join()
    }

    fn join(self) -> Result<RunReport, RunError> {
        self.thread
            .join()
            .expect("the server thread does not panic")
    }
}

fn start<F, Fut, H>(config: RuntimeConfig, factory: F) -> Running
where
    F: Fn(CoreContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<H, StartError>>,
    H: ConnectionHandler,
{
    let server = Server::bind(config).expect("binds on loopback");
    let address = server.local_addr();
    assert_ne!(address.port(), 0, "the real port is reported");
    let shutdown = server.shutdown_handle();
    let thread = thread::spawn(move || server.run(factory));
    Running {
        address,
        shutdown,
        thread,
    }
}

fn connect(address: SocketAddr) -> StdTcpStream {
    let stream = StdTcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .expect("sets a read timeout");
    stream
        .set_write_timeout(Some(CLIENT_TIMEOUT))
        .expect("sets a write timeout");
    stream
}

/// Writes the core's index as one byte, then echoes until the client closes.
struct Echo {
    core: u8,
}

impl ConnectionHandler for Echo {
    fn handle(&self, stream: TcpStream, _peer: SocketAddr) -> impl Future<Output = ()> + 'static {
        echo(stream, self.core)
    }
}

async fn echo(mut stream: TcpStream, core: u8) {
    let (result, _) = stream.write_all(vec![core]).await;
    if result.is_err() {
        return;
    }
    let mut buffer = Vec::with_capacity(4096);
    for _ in 0..HANDLER_ROUNDS_MAX {
        let (result, returned) = stream.read(buffer).await;
        buffer = returned;
        if !matches!(result, Ok(count) if count > 0) {
            return;
        }
        let (result, returned) = stream.write_all(buffer).await;
        buffer = returned;
        buffer.clear();
        if result.is_err() {
            return;
        }
    }
}

async fn echo_factory(context: CoreContext) -> Result<Echo, StartError> {
    let core = u8::try_from(context.index()).expect("tests run few cores");
    Ok(Echo { core })
}

/// One echo round trip; returns the core that served it.
fn echo_once(address: SocketAddr, message: &[u8]) -> u8 {
    let mut stream = connect(address);
    let mut core = [0u8; 1];
    stream.read_exact(&mut core).expect("reads the core index");
    stream.write_all(message).expect("sends");
    let mut echoed = vec![0u8; message.len()];
    stream.read_exact(&mut echoed).expect("reads the echo");
    assert_eq!(echoed, message);
    stream.shutdown(SocketShutdown::Write).expect("half-closes");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("reads to the end");
    assert!(rest.is_empty(), "nothing after the echo");
    core[0]
}

fn echo_on_both_cores(driver: DriverChoice, accept: AcceptMode, expected: DriverKind) {
    let running = start(config(driver, accept), echo_factory);
    let address = running.address;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            thread::spawn(move || {
                let message = format!("hello from client {client}").repeat(client + 1);
                echo_once(address, message.as_bytes())
            })
        })
        .collect();
    let mut per_core = [0usize; 2];
    for client in clients {
        let core = client.join().expect("the client thread does not panic");
        per_core[usize::from(core)] += 1;
    }
    assert!(
        per_core.iter().all(|&count| count > 0),
        "both cores served: {per_core:?}"
    );
    assert_eq!(per_core.iter().sum::<usize>(), CLIENTS);

    let report = running.stop().expect("the server runs and stops cleanly");
    assert_eq!(report.drivers.len(), 2);
    for driver in &report.drivers {
        assert_eq!(driver.kind, expected, "{driver}");
    }
    assert_eq!(report.connections_cut, 0);
}

#[test]
fn io_uring_reuse_port_echoes_on_both_cores() {
    echo_on_both_cores(
        DriverChoice::IoUring,
        AcceptMode::ReusePort,
        DriverKind::IoUring,
    );
}

#[test]
fn io_uring_single_acceptor_echoes_on_both_cores() {
    echo_on_both_cores(
        DriverChoice::IoUring,
        AcceptMode::SingleAcceptor,
        DriverKind::IoUring,
    );
}

#[test]
fn legacy_reuse_port_echoes_on_both_cores() {
    echo_on_both_cores(
        DriverChoice::Legacy,
        AcceptMode::ReusePort,
        DriverKind::Legacy,
    );
}

#[test]
fn legacy_single_acceptor_echoes_on_both_cores() {
    echo_on_both_cores(
        DriverChoice::Legacy,
        AcceptMode::SingleAcceptor,
        DriverKind::Legacy,
    );
}

#[test]
fn single_acceptor_hands_connections_round_robin() {
    let running = start(
        config(DriverChoice::Auto, AcceptMode::SingleAcceptor),
        echo_factory,
    );
    // One client at a time, so the acceptor's order is the connections' order.
    let cores: Vec<u8> = (0..6)
        .map(|_| echo_once(running.address, b"ping"))
        .collect();
    let first = cores[0];
    let expected: Vec<u8> = (0..6).map(|turn| (first + turn) % 2).collect();
    assert_eq!(cores, expected);
    running.stop().expect("stops cleanly");
}

#[test]
fn auto_falls_back_to_legacy_when_the_ring_cannot_be_built() {
    let mut config = config(DriverChoice::Auto, AcceptMode::ReusePort);
    // Above io_uring's limit of 32768 entries, so io_uring_setup fails as it does under seccomp.
    config.io_uring_entries = 1 << 16;
    let running = start(config, |context: CoreContext| async move {
        assert_eq!(context.driver().kind, DriverKind::Legacy);
        echo_factory(context).await
    });
    assert!(echo_once(running.address, b"still serves") < 2);
    let report = running.stop().expect("stops cleanly");
    for driver in &report.drivers {
        assert_eq!(driver.kind, DriverKind::Legacy);
        let reason = driver.downgrade.as_deref().expect("the fallback says why");
        assert!(reason.starts_with("io_uring unavailable"), "{reason}");
    }
}

#[test]
fn explicit_io_uring_does_not_fall_back() {
    let mut config = config(DriverChoice::IoUring, AcceptMode::ReusePort);
    config.io_uring_entries = 1 << 16;
    let running = start(config, echo_factory);
    match running.join() {
        Err(RunError::Driver { .. }) => {}
        other => panic!("expected a driver error, got {other:?}"),
    }
}

#[test]
fn a_core_that_cannot_start_stops_the_server() {
    let running = start(
        config(DriverChoice::Auto, AcceptMode::ReusePort),
        |context: CoreContext| async move {
            if context.index() == 1 {
                return Err(StartError::from("store does not open"));
            }
            echo_factory(context).await
        },
    );
    match running.join() {
        Err(RunError::CoreStart { core: 1, source }) => {
            assert_eq!(source.to_string(), "store does not open")
        }
        other => panic!("expected core 1 to fail to start, got {other:?}"),
    }
}

#[test]
fn invalid_configurations_are_refused() {
    let mut no_threads = config(DriverChoice::Auto, AcceptMode::ReusePort);
    no_threads.threads = 0;
    assert!(matches!(
        Server::bind(no_threads),
        Err(RunError::InvalidConfig { .. })
    ));
}

/// Reads one request line, tells the test it arrived, waits, then answers with whether the
/// server was draining by then. Idle connections close as soon as draining starts.
struct Slow {
    context: CoreContext,
    arrived: mpsc::Sender<()>,
    delay: Duration,
}

impl ConnectionHandler for Slow {
    fn handle(&self, stream: TcpStream, _peer: SocketAddr) -> impl Future<Output = ()> + 'static {
        slow(
            stream,
            self.context.clone(),
            self.arrived.clone(),
            self.delay,
        )
    }
}

async fn slow(
    mut stream: TcpStream,
    context: CoreContext,
    arrived: mpsc::Sender<()>,
    delay: Duration,
) {
    let buffer = Vec::with_capacity(64);
    // Keep-alive style: wait for the next request or the drain, whichever comes first.
    let read = monoio::select! {
        () = context.draining().wait() => return,
        read = stream.read(buffer) => read,
    };
    if !matches!(read.0, Ok(count) if count > 0) {
        return;
    }
    let _ = arrived.send(());
    monoio::time::sleep(delay).await;
    let answer = format!("done draining={}", context.draining().is_draining());
    let _ = stream.write_all(answer.into_bytes()).await;
}

fn start_slow(
    driver: DriverChoice,
    accept: AcceptMode,
    delay: Duration,
    grace: Duration,
) -> (Running, mpsc::Receiver<()>) {
    let (arrived_sender, arrived) = mpsc::channel();
    let arrived_sender = std::sync::Mutex::new(arrived_sender);
    let mut config = config(driver, accept);
    config.grace = grace;
    let running = start(config, move |context: CoreContext| {
        let arrived = arrived_sender.lock().expect("not poisoned").clone();
        async move {
            Ok::<_, StartError>(Slow {
                context,
                arrived,
                delay,
            })
        }
    });
    (running, arrived)
}

fn drain_finishes_the_request_in_flight(driver: DriverChoice, accept: AcceptMode) {
    let (running, arrived) = start_slow(
        driver,
        accept,
        Duration::from_millis(300),
        Duration::from_secs(3),
    );
    let address = running.address;
    let mut idle = connect(address);
    let mut busy = connect(address);
    busy.write_all(b"request\n").expect("sends the request");
    arrived
        .recv_timeout(CLIENT_TIMEOUT)
        .expect("the request reaches the handler");

    let started = Instant::now();
    running.shutdown.trigger();
    let mut answer = String::new();
    busy.read_to_string(&mut answer)
        .expect("the answer arrives");
    assert_eq!(answer, "done draining=true");
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest)
        .expect("the idle connection is closed, not cut");
    assert!(rest.is_empty());

    let report = running.join().expect("stops cleanly");
    assert_eq!(report.connections_cut, 0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait for the grace period"
    );
    assert!(
        StdTcpStream::connect(address).is_err(),
        "listeners are closed"
    );
}

#[test]
fn drain_finishes_the_request_in_flight_io_uring_reuse_port() {
    drain_finishes_the_request_in_flight(DriverChoice::IoUring, AcceptMode::ReusePort);
}

#[test]
fn drain_finishes_the_request_in_flight_legacy_single_acceptor() {
    drain_finishes_the_request_in_flight(DriverChoice::Legacy, AcceptMode::SingleAcceptor);
}

fn grace_cuts_what_does_not_finish(driver: DriverChoice) {
    let (running, arrived) = start_slow(
        driver,
        AcceptMode::ReusePort,
        Duration::from_secs(60),
        Duration::from_millis(200),
    );
    let mut stuck = connect(running.address);
    stuck.write_all(b"request\n").expect("sends the request");
    arrived
        .recv_timeout(CLIENT_TIMEOUT)
        .expect("the request reaches the handler");
    let started = Instant::now();
    running.shutdown.trigger();
    let report = running.join().expect("stops after the grace period");
    assert_eq!(report.connections_cut, 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the grace period bounds the drain"
    );
    let mut rest = Vec::new();
    let read = stuck.read_to_end(&mut rest);
    assert!(
        read.is_err() || rest.is_empty(),
        "the cut connection is closed: {read:?}"
    );
}

#[test]
fn grace_cuts_what_does_not_finish_io_uring() {
    grace_cuts_what_does_not_finish(DriverChoice::IoUring);
}

#[test]
fn grace_cuts_what_does_not_finish_legacy() {
    grace_cuts_what_does_not_finish(DriverChoice::Legacy);
}

#[test]
fn sigterm_drains_and_returns() {
    let (arrived_sender, arrived) = mpsc::channel();
    let arrived_sender = std::sync::Mutex::new(arrived_sender);
    let mut config = config(DriverChoice::Auto, AcceptMode::ReusePort);
    config.handle_signals = true;
    let running = start(config, move |context: CoreContext| {
        let arrived = arrived_sender.lock().expect("not poisoned").clone();
        async move {
            Ok::<_, StartError>(Slow {
                context,
                arrived,
                delay: Duration::from_millis(200),
            })
        }
    });
    let mut busy = connect(running.address);
    busy.write_all(b"request\n").expect("sends the request");
    // The handler runs, so `run` has registered its signal handler before starting the cores.
    arrived
        .recv_timeout(CLIENT_TIMEOUT)
        .expect("the request reaches the handler");
    signal_hook::low_level::raise(signal_hook::consts::SIGTERM).expect("raises SIGTERM");
    let mut answer = String::new();
    busy.read_to_string(&mut answer)
        .expect("the answer arrives");
    assert_eq!(answer, "done draining=true");
    let report = running.join().expect("SIGTERM ends the run cleanly");
    assert_eq!(report.connections_cut, 0);
}
