//! The overview page's cost: how long kube-state-metrics takes to compute `/overview.json`, and scrape
//! latency and memory while a page polls it (at five times the page's own rate, to be safe).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::client::Plain;
use crate::procfs;
use crate::report::{Latency, OverviewCost};

/// The page polls every 5 s; the bench polls every second.
const POLL: Duration = Duration::from_secs(1);

/// Rounds of scrapes with and without the page.
const ROUNDS: usize = 4;

pub async fn measure(http: &Plain, pid: u32, scrapes: usize) -> anyhow::Result<OverviewCost> {
    let page = http.get_ok("/", &[]).await?;
    let page_bytes = page.body.len();
    drop(page);
    // Computed overviews are reused for 2 s: wait past that before each timed one.
    let mut compute = Vec::new();
    let cpu0 = procfs::cpu_seconds(pid);
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let started = Instant::now();
        http.get_ok("/overview.json", &[]).await?;
        compute.push(started.elapsed().as_secs_f64());
    }
    let cpu_seconds_per_overview = (procfs::cpu_seconds(pid) - cpu0) / compute.len() as f64;

    // Scrapes with the page polling and without it, in alternating rounds: compared with the scrapes
    // measured earlier, a drift of the machine over the minute between (seen: 0.037-0.041 s before,
    // 0.047 s with the page, whose polls hit only a few of the scrapes) read as the page's cost.
    let per_round = scrapes.max(ROUNDS).div_ceil(ROUNDS);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let mut mem = procfs::mem(pid);
    for round in 0..ROUNDS {
        without.extend(http.times(per_round, "/metrics", &[]).await?);
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (http, stop) = (http.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = http.get_len("/overview.json", &[]).await;
                    let _ = http.get_len("/?fragment=main", &[]).await;
                    tokio::time::sleep(POLL).await;
                }
            })
        };
        with.extend(http.times(per_round, "/metrics", &[]).await?);
        if round + 1 == ROUNDS {
            // Memory once the page has been polling for a while, as before.
            tokio::time::sleep(Duration::from_secs(2)).await;
            mem = procfs::mem(pid);
        }
        stop.store(true, Ordering::Relaxed);
        let _ = poller.await;
    }
    Ok(OverviewCost {
        page_bytes,
        compute: Latency::of(compute),
        cpu_seconds_per_overview,
        plain_1_with_page: Latency::of(with),
        plain_1_without_page: Latency::of(without),
        rss_with_page_kib: mem.rss_kib,
    })
}
