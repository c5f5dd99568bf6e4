//! Opens a root directory with the engine and prints how long it took and what it found: a
//! quick check of a real root (`cargo run --release -p storage-engine --example open_root --
//! /var/lib/zot [legacy]`), and how the open figure of docs/design.md 4.6 is measured cold.

use std::time::Instant;

use storage_engine::{Disk, Store, StoreConfig};

fn main() {
    let mut arguments = std::env::args().skip(1);
    let Some(root) = arguments.next() else {
        eprintln!("usage: open_root ROOT [io_uring|legacy]");
        std::process::exit(2);
    };
    let driver = arguments.next().unwrap_or_else(|| "io_uring".to_owned());
    let open = async {
        let start = Instant::now();
        let store = Store::open(StoreConfig::new(&root), Disk::new()).await;
        (start.elapsed(), store)
    };
    let (elapsed, store) = match driver.as_str() {
        "legacy" => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("legacy runtime")
            .block_on(open),
        _ => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(256)
            .build()
            .expect("io_uring runtime")
            .block_on(open),
    };
    match store {
        Ok(store) => {
            println!(
                "{driver}: opened {} repositories in {:.1} ms; {} left out as damaged",
                store.repository_count(),
                elapsed.as_secs_f64() * 1000.0,
                store.damaged().len()
            );
            for damaged in store.damaged() {
                println!("  damaged: {damaged}");
            }
        }
        Err(error) => {
            eprintln!("{driver}: open failed after {elapsed:?}: {error}");
            std::process::exit(1);
        }
    }
}
