//! The server's life: bind, start one thread per core (and the acceptor), wait for shutdown,
//! join, report.

use std::future::Future;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;

use super::config::{AcceptMode, RuntimeConfig};
use super::core::{self, CoreOutcome, CoreSetup};
use super::driver::CoreDriver;
use super::error::{RunError, StartError};
use super::handler::{ConnectionHandler, CoreContext};
use super::listen::{self, CoreQueues};
use super::platform;
use super::shutdown::{self, Shutdown, wake_one};

/// More core threads than this is a configuration mistake, not a machine.
pub const THREADS_MAX: usize = 4096;

/// How the run ended.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The driver each core ran, by core index.
    pub drivers: Vec<CoreDriver>,
    /// Connections still open when the grace period ran out, closed without finishing.
    pub connections_cut: usize,
}

/// Bound listeners and everything else that can fail before any thread starts.
#[derive(Debug)]
pub struct Server {
    config: RuntimeConfig,
    local_address: SocketAddr,
    /// One per core with [`AcceptMode::ReusePort`], else the acceptor's single listener.
    listeners: Vec<TcpListener>,
    shutdown: Shutdown,
    /// Read ends of the cores' wake sockets, by core index.
    core_wakes: Vec<UnixStream>,
    /// Write ends of the cores' wake sockets, for the acceptor's hand-offs.
    core_wake_writers: Vec<UnixStream>,
    acceptor_wake: Option<UnixStream>,
    /// `run`'s thread waits on this; signals, the trigger and exiting threads write to it.
    control_read: UnixStream,
    control_write: UnixStream,
    /// Held until the server is dropped: a signal from `bind` on asks for a clean shutdown.
    signals: shutdown::SignalRegistration,
}

impl Server {
    /// Binds the listening sockets. With port 0 the first socket picks a free port and every
    /// other core binds that same port.
    pub fn bind(config: RuntimeConfig) -> Result<Server, RunError> {
        if config.threads == 0 {
            return Err(RunError::InvalidConfig {
                reason: "threads must be at least 1",
            });
        }
        if config.threads > THREADS_MAX {
            return Err(RunError::InvalidConfig {
                reason: "threads exceeds THREADS_MAX",
            });
        }
        if config.connections_per_core_max == 0 {
            return Err(RunError::InvalidConfig {
                reason: "connections_per_core_max must be at least 1",
            });
        }
        if config.accept == AcceptMode::ReusePort && !platform::REUSE_PORT_BALANCES {
            return Err(RunError::InvalidConfig {
                reason: "SO_REUSEPORT does not balance connections on this platform",
            });
        }
        let listener_count = match config.accept {
            AcceptMode::ReusePort => config.threads,
            AcceptMode::SingleAcceptor => 1,
        };
        let reuse_port = config.accept == AcceptMode::ReusePort;
        let bind_error = |address| move |source| RunError::Bind { address, source };
        if reuse_port && config.listen.port() != 0 {
            listen::ensure_unused(config.listen).map_err(bind_error(config.listen))?;
        }
        let first = listen::bind(config.listen, reuse_port).map_err(bind_error(config.listen))?;
        let local_address = first.local_addr().map_err(bind_error(config.listen))?;
        let mut listeners = vec![first];
        for _ in 1..listener_count {
            let listener =
                listen::bind(local_address, reuse_port).map_err(bind_error(local_address))?;
            listeners.push(listener);
        }

        let setup_error = |what| move |source| RunError::Setup { what, source };
        let mut core_wakes = Vec::with_capacity(config.threads);
        let mut core_wake_writers = Vec::with_capacity(config.threads);
        let mut trigger_wakes = Vec::with_capacity(config.threads + 2);
        for _ in 0..config.threads {
            let (read, write) = shutdown::wake_pair().map_err(setup_error("a wake socket"))?;
            trigger_wakes.push(write.try_clone().map_err(setup_error("a wake socket"))?);
            core_wakes.push(read);
            core_wake_writers.push(write);
        }
        let acceptor_wake = match config.accept {
            AcceptMode::ReusePort => None,
            AcceptMode::SingleAcceptor => {
                let (read, write) = shutdown::wake_pair().map_err(setup_error("a wake socket"))?;
                trigger_wakes.push(write);
                Some(read)
            }
        };
        let (control_read, control_write) =
            shutdown::wake_pair().map_err(setup_error("a wake socket"))?;
        trigger_wakes.push(
            control_write
                .try_clone()
                .map_err(setup_error("a wake socket"))?,
        );

        let signals = if config.handle_signals {
            shutdown::SignalRegistration::register(&control_write).map_err(|source| {
                RunError::Setup {
                    what: "the signal handler",
                    source,
                }
            })?
        } else {
            shutdown::SignalRegistration::default()
        };
        Ok(Server {
            signals,
            config,
            local_address,
            listeners,
            shutdown: Shutdown::new(trigger_wakes),
            core_wakes,
            core_wake_writers,
            acceptor_wake,
            control_read,
            control_write,
        })
    }

    /// The address the server listens on, with the real port when port 0 was asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_address
    }

    /// A handle that starts draining from any thread, as SIGTERM does.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Runs the server until shutdown has drained every core.
    ///
    /// `factory` runs once on each core, on that core's runtime, before it serves: it is the
    /// place to open per-core state (the store) and to log [`CoreContext::driver`]. Its handler
    /// then serves every connection of that core. If a core cannot start, or a thread panics,
    /// the others are shut down and the first error (by core index) is returned.
    pub fn run<F, Fut, H>(self, factory: F) -> Result<RunReport, RunError>
    where
        F: Fn(CoreContext) -> Fut + Sync,
        Fut: Future<Output = Result<H, StartError>>,
        H: ConnectionHandler,
    {
        // The signals registered in `bind` stay until `run_threads` drops the server's parts.
        self.run_threads(&factory)
    }

    fn run_threads<F, Fut, H>(mut self, factory: &F) -> Result<RunReport, RunError>
    where
        F: Fn(CoreContext) -> Fut + Sync,
        Fut: Future<Output = Result<H, StartError>>,
        H: ConnectionHandler,
    {
        let setup_error = |what| move |source| RunError::Setup { what, source };
        let threads = self.config.threads;
        let (setups, acceptor) = self.split_setups();
        let Server {
            config,
            shutdown,
            control_read,
            control_write,
            // Until every thread has ended: a signal meanwhile still asks for the shutdown.
            signals: _signals,
            ..
        } = self;
        let mut exits = Vec::with_capacity(threads + 1);
        for _ in 0..threads + 1 {
            let exit = control_write
                .try_clone()
                .map_err(setup_error("a wake socket"))?;
            exits.push(ExitNotice(exit));
        }
        let (config, shutdown) = (&config, &shutdown);

        thread::scope(|scope| {
            let mut errors = Vec::new();
            let mut cores = Vec::with_capacity(threads);
            for (setup, exit) in setups.into_iter().zip(exits.drain(..threads)) {
                let name = format!("zot-core-{}", setup.index);
                let spawned =
                    thread::Builder::new()
                        .name(name.clone())
                        .spawn_scoped(scope, move || {
                            let _exit = exit;
                            core::run(setup, config, factory)
                        });
                match spawned {
                    Ok(handle) => cores.push((name, handle)),
                    Err(source) => {
                        errors.push(RunError::Setup {
                            what: "a core thread",
                            source,
                        });
                        break;
                    }
                }
            }
            let mut acceptor_thread = None;
            if let (Some(acceptor), true) = (acceptor, errors.is_empty()) {
                let exit = exits.pop().expect("one exit notice per thread");
                let spawned = thread::Builder::new()
                    .name("zot-acceptor".to_owned())
                    .spawn_scoped(scope, move || {
                        let _exit = exit;
                        listen::run_acceptor(
                            acceptor.listener,
                            acceptor.wake,
                            shutdown,
                            &acceptor.queues,
                        )
                    });
                match spawned {
                    Ok(handle) => acceptor_thread = Some(handle),
                    Err(source) => errors.push(RunError::Setup {
                        what: "the acceptor thread",
                        source,
                    }),
                }
            }
            if errors.is_empty() {
                wait_for_control(&control_read);
            }
            shutdown.trigger();

            let mut drivers = Vec::with_capacity(threads);
            let mut connections_cut = 0;
            let mut core_errors = Vec::new();
            for (name, handle) in cores {
                match handle.join() {
                    Ok(Ok(CoreOutcome {
                        driver,
                        connections_cut: cut,
                    })) => {
                        drivers.push(driver);
                        connections_cut += cut;
                    }
                    Ok(Err(error)) => core_errors.push(error),
                    Err(_) => core_errors.push(RunError::Panicked { thread: name }),
                }
            }
            if let Some(handle) = acceptor_thread {
                match handle.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(source)) => core_errors.push(RunError::Setup {
                        what: "the acceptor",
                        source,
                    }),
                    Err(_) => core_errors.push(RunError::Panicked {
                        thread: "zot-acceptor".to_owned(),
                    }),
                }
            }
            match core_errors.into_iter().chain(errors).next() {
                Some(error) => Err(error),
                None => {
                    assert_eq!(drivers.len(), threads, "every core reported its driver");
                    Ok(RunReport {
                        drivers,
                        connections_cut,
                    })
                }
            }
        })
    }

    /// Splits the bound sockets into what each core thread and the acceptor start with.
    fn split_setups(&mut self) -> (Vec<CoreSetup>, Option<AcceptorSetup>) {
        let threads = self.config.threads;
        let mut listeners = std::mem::take(&mut self.listeners).into_iter();
        let mut wakes = std::mem::take(&mut self.core_wakes).into_iter();
        let mut setups = Vec::with_capacity(threads);
        let acceptor = match self.config.accept {
            AcceptMode::ReusePort => {
                for index in 0..threads {
                    setups.push(CoreSetup {
                        index,
                        cores: threads,
                        listener: Some(listeners.next().expect("one listener per core")),
                        handoff: None,
                        wake: wakes.next().expect("one wake socket per core"),
                        shutdown: self.shutdown.clone(),
                    });
                }
                None
            }
            AcceptMode::SingleAcceptor => {
                let mut senders = Vec::with_capacity(threads);
                for index in 0..threads {
                    let (sender, receiver) = mpsc::channel();
                    senders.push(sender);
                    setups.push(CoreSetup {
                        index,
                        cores: threads,
                        listener: None,
                        handoff: Some(receiver),
                        wake: wakes.next().expect("one wake socket per core"),
                        shutdown: self.shutdown.clone(),
                    });
                }
                Some(AcceptorSetup {
                    listener: listeners.next().expect("the acceptor's listener"),
                    wake: self
                        .acceptor_wake
                        .take()
                        .expect("the acceptor's wake socket"),
                    queues: CoreQueues {
                        senders,
                        wakes: std::mem::take(&mut self.core_wake_writers),
                    },
                })
            }
        };
        (setups, acceptor)
    }
}

/// What the acceptor thread starts with.
#[derive(Debug)]
struct AcceptorSetup {
    listener: TcpListener,
    wake: UnixStream,
    queues: CoreQueues,
}

/// Writes a byte to `run`'s control socket when its thread ends, normally or by panic, so that
/// a core that stops early shuts the whole server down instead of leaving it half-deaf.
struct ExitNotice(UnixStream);

impl Drop for ExitNotice {
    fn drop(&mut self) {
        wake_one(&self.0);
    }
}

/// Blocks until a byte arrives: a signal, [`Shutdown::trigger`], or a thread that ended.
fn wait_for_control(mut control: &UnixStream) {
    let mut buffer = [0u8; 64];
    // Only retries a read interrupted by a signal (whose byte then follows).
    loop {
        match control.read(&mut buffer) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            _ => return,
        }
    }
}
