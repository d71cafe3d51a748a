//! A fixed set of threads, one per core, for CPU-bound work the async tasks hand off: scrapes render ahead
//! and compress gzip segments on it, and ingestion decodes half of each large batch of objects on it.

use std::sync::Arc;

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on the pool; its result arrives through the receiver. Without pool threads `f` runs
/// right here, slower but correct.
pub fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::sync::oneshot::Receiver<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // The caller may have given up meanwhile (an abandoned scrape); then nobody wants the result.
    let job: Job = Box::new(move || drop(tx.send(f())));
    match pool() {
        Some(pool) => {
            if let Err(std::sync::mpsc::SendError(job)) = pool.send(job) {
                job();
            }
        }
        None => job(),
    }
    rx
}

/// The threads: one per core. Concurrent scrapes queue their work instead of each growing tokio's blocking pool
/// (every thread keeps its own deflate state and malloc arena, which showed as +28 MiB RSS with 8 gzip
/// scrapers there).
fn pool() -> Option<&'static std::sync::mpsc::Sender<Job>> {
    static POOL: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Job>>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut started = 0;
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("pool-{i}")).spawn(move || {
                loop {
                    // The lock is held only while taking a job, never while running one.
                    let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        // A job that panics loses only its result (its caller sees the sender
                        // dropped); the thread stays for the next one.
                        Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                        Err(_) => return,
                    }
                }
            });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::warn!(error = %e, "cannot start a pool thread"),
            }
        }
        (started > 0).then_some(tx)
    })
    .as_ref()
}
