//! Which core owns a repository, and how a request for it reaches that core: a job sent through
//! the owner's inbox, run there against its store, its answer sent back. Blob bytes never take
//! this path; only manifests, tags, listings, deletes and repository creation do.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use crate::registry::Registry;

/// Work for another core: runs there with that core's registry.
pub type Job = Box<dyn FnOnce(Rc<Registry>) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The owner core of a repository name: a stable hash of the name. Nothing on disk depends on
/// it, so the core count may change between runs.
pub fn owner_of(name: &str, cores: usize) -> usize {
    assert!(cores > 0, "at least one core");
    // FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % cores as u64) as usize
}

/// One core's view of all cores' inboxes.
#[derive(Clone, Debug)]
pub struct Shards {
    inboxes: Arc<Vec<flume::Sender<Job>>>,
    core: usize,
}

impl Shards {
    /// Inboxes for `cores` cores: the shared senders, and each core's receiver by index.
    pub fn new(cores: usize) -> (Shards, Vec<flume::Receiver<Job>>) {
        assert!(cores > 0, "at least one core");
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..cores).map(|_| flume::unbounded()).unzip();
        let shards = Shards {
            inboxes: Arc::new(senders),
            core: 0,
        };
        (shards, receivers)
    }

    /// A single core owning everything (tests, one-thread servers).
    pub fn single() -> Shards {
        Shards::new(1).0
    }

    /// The same shards, seen from core `core`.
    pub fn for_core(&self, core: usize) -> Shards {
        assert!(core < self.inboxes.len(), "core {core} out of range");
        Shards {
            inboxes: Arc::clone(&self.inboxes),
            core,
        }
    }

    pub fn core(&self) -> usize {
        self.core
    }

    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    pub fn owner(&self, name: &str) -> usize {
        owner_of(name, self.cores())
    }

    /// Runs `work` on core `core` with its registry and returns its result here.
    pub async fn run_on<T, F>(&self, core: usize, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(Rc<Registry>) -> Pin<Box<dyn Future<Output = T>>> + Send + 'static,
    {
        let (reply, answer) = flume::bounded(1);
        let job: Job = Box::new(move |registry| {
            Box::pin(async move {
                let _ = reply.send(work(registry).await);
            })
        });
        self.inboxes[core]
            .send(job)
            .expect("every core's inbox lives as long as the server");
        answer
            .recv_async()
            .await
            .expect("the owner core answers every job it takes")
    }
}

/// Runs the jobs other cores send to this one, each as its own task, until the server stops.
pub async fn serve_inbox(registry: Rc<Registry>, inbox: flume::Receiver<Job>) {
    while let Ok(job) = inbox.recv_async().await {
        monoio::spawn(job(Rc::clone(&registry)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_stable_and_spread() {
        assert_eq!(owner_of("library/alpine", 1), 0);
        let mut counts = [0usize; 4];
        for index in 0..1000 {
            counts[owner_of(&format!("team/app{index}"), 4)] += 1;
        }
        assert!(counts.iter().all(|&count| count > 150), "{counts:?}");
        // The same name, the same owner, every time.
        assert_eq!(owner_of("a/b", 7), owner_of("a/b", 7));
    }
}
