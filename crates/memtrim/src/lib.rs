//! Handing memory the process has freed back to the system after a burst (kube-state-metrics after its
//! lists and scrape bursts, metrics-server after a failed scrape).
//!
//! glibc's malloc keeps what a thread frees in that thread's arena and returns only the top of each
//! heap, so after the start (every object decoded and rendered once) or a burst of concurrent scrapes,
//! the resident size stays at the burst's high-water mark although most of it is free. That is what a
//! memory limit and an operator reading RSS see. `malloc_trim(0)` gives the free pages of every arena
//! back; it walks the arenas under their locks, so it runs on its own thread, a moment after the burst.

use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

/// How long a request waits for others to join it: a start finishes its lists one resource after
/// another and concurrent scrapes end one after another; one trim serves them all.
const SETTLE: Duration = Duration::from_millis(500);

/// Asks for free memory to be handed back soon. Cheap; requests made while one is pending merge into it.
pub fn after_burst() {
    static TRIMMER: OnceLock<Option<SyncSender<()>>> = OnceLock::new();
    let tx = TRIMMER.get_or_init(|| {
        let (tx, rx) = sync_channel(1);
        match std::thread::Builder::new().name("trim".into()).spawn(move || run(&rx)) {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::debug!(error = %e, "no thread for handing memory back; RSS keeps its high-water mark");
                None
            }
        }
    });
    if let Some(tx) = tx {
        // Full means a trim is already pending.
        let _ = tx.try_send(());
    }
}

fn run(rx: &Receiver<()>) {
    while rx.recv().is_ok() {
        std::thread::sleep(SETTLE);
        loop {
            match rx.try_recv() {
                Ok(()) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        release_free_memory();
    }
}

/// Returns free heap pages to the system now; false where the allocator has no such call.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() -> bool {
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it takes no pointers and has
    // no precondition on the caller.
    unsafe { libc::malloc_trim(0) != 0 }
}

/// Returns free heap pages to the system now; false where the allocator has no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_goes_back_to_the_system() {
        fn rss_kib() -> Option<u64> {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix(" kB")?.parse().ok())
        }
        if !cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(!release_free_memory());
            return;
        }
        // Many small blocks (below the mmap threshold, so they live in the heap), all touched, then
        // all but a few freed: glibc keeps the pages until asked.
        let mut blocks: Vec<Vec<u8>> = (0..40_000).map(|i| vec![(i % 251) as u8; 2000]).collect();
        let keep: Vec<Vec<u8>> = blocks.iter().step_by(4000).cloned().collect();
        let before = rss_kib().unwrap();
        blocks.clear();
        blocks.shrink_to_fit();
        release_free_memory();
        let after = rss_kib().unwrap();
        assert!(before.saturating_sub(after) > 40_000, "RSS {before} kB -> {after} kB after trimming");
        assert_eq!(keep.len(), 10);
    }
}
