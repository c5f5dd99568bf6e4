//! `zot serve`: the registry on every core. Opens each core's share of the storage root, serves
//! the distribution API on one listener per core, and stops cleanly on SIGTERM or SIGINT.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Mutex;

use storage_engine::{Disk, RootLock, Store, StoreConfig};

use crate::config::{Accept, Config, Driver};
use crate::http::{ConnectionTimeouts, serve_connection};
use crate::limits::UPLOAD_EXPIRY_INTERVAL;
use crate::logging;
use crate::registry::shards::{Shards, serve_inbox};
use crate::registry::{Registry, RegistryOptions};
use crate::runtime::{AcceptMode, Draining, DriverChoice, RuntimeConfig, Server, StartError};

/// Exit status when the server cannot start or fails while running.
pub const EXIT_CODE_FAILED: u8 = 1;

/// Runs the registry on `config` until it is told to stop, and returns the process exit status:
/// 0 after a clean shutdown.
pub fn run(config: Config) -> ExitCode {
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zot serve: {message}");
            ExitCode::from(EXIT_CODE_FAILED)
        }
    }
}

fn serve(config: Config) -> Result<(), String> {
    logging::init(&config.log)?;
    crate::runtime::fix_allocator_mapping_threshold();
    let listen = resolve(&config.http.address, config.http.port)?;
    // Before the port: a second server on this root must fail without touching it, and without
    // taking connections meant for the first one.
    let mut root_locks =
        vec![RootLock::acquire(&config.storage.root_directory).map_err(|error| error.to_string())?];
    for (prefix, sub_path) in &config.storage.sub_paths {
        let lock = RootLock::acquire(&sub_path.root_directory)
            .map_err(|error| format!("storage.subPaths.{prefix}: {error}"))?;
        root_locks.push(lock);
    }
    let mut runtime = RuntimeConfig::new(listen);
    runtime.threads = config.runtime.threads.get();
    runtime.driver = match config.runtime.driver {
        Driver::Auto => DriverChoice::Auto,
        Driver::IoUring => DriverChoice::IoUring,
        Driver::Legacy => DriverChoice::Legacy,
    };
    match config.runtime.accept {
        Accept::Auto => {}
        Accept::ReusePort => runtime.accept = AcceptMode::ReusePort,
        Accept::Acceptor => runtime.accept = AcceptMode::SingleAcceptor,
    }
    runtime.connections_per_core_max = config.runtime.connections_per_core_max;
    let server = Server::bind(runtime).map_err(|error| error.to_string())?;
    // Tests and scripts read this line to learn the port when the config asks for port 0.
    eprintln!("zot serve: listening on {}", server.local_addr());
    tracing::info!(address = %server.local_addr(), cores = config.runtime.threads.get(), "listening");
    let mut store_config = StoreConfig::new(&config.storage.root_directory);
    store_config.dedupe = config.storage.dedupe;
    for (prefix, sub_path) in &config.storage.sub_paths {
        let component = prefix
            .strip_prefix('/')
            .expect("the config checked that a sub path key is one component after a /");
        let mut sub_config = StoreConfig::new(&sub_path.root_directory);
        sub_config.dedupe = sub_path.dedupe;
        store_config
            .sub_paths
            .insert(component.to_owned(), sub_config);
    }
    let options = RegistryOptions {
        deletes_allowed: config.runtime.deletes,
        docker_manifests_allowed: config.http.accepts_docker_manifests(),
    };
    let timeouts = ConnectionTimeouts {
        idle: config.runtime.idle_timeout,
        head: config.runtime.head_timeout,
    };
    let cores = config.runtime.threads.get();
    let (shards, inboxes) = Shards::new(cores);
    let inboxes: Mutex<Vec<_>> = Mutex::new(inboxes.into_iter().map(Some).collect());
    let report = server
        .run(|core| {
            let store_config = store_config.clone();
            let shards = shards.for_core(core.index());
            let inbox = inboxes.lock().expect("no core panicked holding it")[core.index()]
                .take()
                .expect("each core takes its own inbox once");
            async move {
                let index = core.index();
                let owner_shards = shards.clone();
                let owns = move |name: &str| owner_shards.owner(name) == index;
                let store = Store::open_owned(store_config, Disk::new(), &owns)
                    .await
                    .map_err(|error| -> StartError { error.to_string().into() })?;
                for damaged in store.damaged() {
                    tracing::warn!("repository left out: {damaged}");
                }
                tracing::info!(
                    "core {} runs {} with {} repositories",
                    core.index(),
                    core.driver(),
                    store.repository_count()
                );
                let registry = Registry::sharded(store, shards, options);
                monoio::spawn(serve_inbox(registry.clone(), inbox));
                let draining = core.draining().clone();
                monoio::spawn(expire_uploads_hourly(registry.clone(), draining.clone()));
                Ok(move |stream, _peer| {
                    let registry = registry.clone();
                    let draining = draining.clone();
                    async move {
                        serve_connection(stream, &*registry, timeouts, &draining).await;
                    }
                })
            }
        })
        .map_err(|error| error.to_string())?;
    tracing::info!(
        connections_cut = report.connections_cut,
        "stopped (connections still open at the end of the grace period were cut)"
    );
    drop(root_locks);
    Ok(())
}

/// Every [`UPLOAD_EXPIRY_INTERVAL`], removes the core's abandoned upload sessions, until the
/// drain starts. Open already removed those that expired while the server was down.
async fn expire_uploads_hourly(registry: std::rc::Rc<Registry>, draining: Draining) {
    // Runs until the drain: every pass waits an interval or the drain.
    loop {
        monoio::select! {
            () = monoio::time::sleep(UPLOAD_EXPIRY_INTERVAL) => {}
            () = draining.wait() => return,
        }
        match registry.expire_uploads().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired upload sessions removed"),
            Err(error) => tracing::error!("expiring upload sessions failed: {error}"),
        }
    }
}

/// The socket address of `http.address` and `http.port` (a name like `localhost` resolves to its
/// first address).
fn resolve(address: &str, port: u16) -> Result<SocketAddr, String> {
    (address, port)
        .to_socket_addrs()
        .map_err(|error| format!("http.address: cannot resolve {address:?}: {error}"))?
        .next()
        .ok_or_else(|| format!("http.address: {address:?} resolves to no address"))
}
