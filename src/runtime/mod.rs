//! The thread-per-core runtime: one monoio runtime per OS thread, listeners, graceful shutdown.
//!
//! [`Server::bind`] binds the listening sockets and [`Server::run`] starts one thread per core,
//! each with its own monoio runtime (io_uring or the legacy poller, see [`DriverChoice`]). A
//! per-core factory builds that core's [`ConnectionHandler`] on the core itself, so handlers and
//! the state they hold (a per-core store, buffers) never need `Send`. Connections are accepted on
//! the core that serves them (`SO_REUSEPORT`, Linux) or handed round-robin by one acceptor thread
//! ([`AcceptMode`]), and stay on that core for their whole life.
//!
//! SIGTERM/SIGINT or [`Shutdown::trigger`] start draining: listeners close, each core's
//! [`Draining`] resolves so keep-alive loops can stop after the current request, and in-flight
//! connections get [`RuntimeConfig::grace`] to finish before they are cut.

mod config;
mod core;
mod driver;
mod error;
mod handler;
mod listen;
mod platform;
mod server;
mod shutdown;

pub use config::{AcceptMode, RuntimeConfig};
pub use driver::{CoreDriver, DriverChoice, DriverKind};
pub use error::{RunError, StartError};
pub use handler::{ConnectionHandler, CoreContext};
pub use platform::fix_allocator_mapping_threshold;
pub use server::{RunReport, Server};
pub use shutdown::{DrainWait, Draining, Shutdown};
