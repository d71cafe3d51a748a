//! Scale check: 100,000 pods, a full paginated LIST, and 10 watchers receiving a burst of changes.
//! Run with `cargo run --release -p kube-sim --example perf [-- PODS]`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kube_sim::{SimConfig, SyntheticConfig};

#[derive(serde::Deserialize)]
struct ListShape {
    metadata: ListMeta,
    items: Vec<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct ListMeta {
    #[serde(rename = "continue")]
    cont: Option<String>,
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pods: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rss0 = rss_mib();
    let t = Instant::now();
    let sim = kube_sim::start(SimConfig {
        tls: false,
        event_window: 10_000,
        synthetic: Some(SyntheticConfig {
            nodes: pods / 100,
            pods_per_node: 100,
            namespaces: 20,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await?;
    let n = sim.store().count("v1", "Pod");
    println!("generated {n} pods in {:.2?}; RSS {:.0} MiB (baseline {:.0} MiB)", t.elapsed(), rss_mib(), rss0);

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{}{}", sim.url(), path);
        let token = sim.token().to_string();
        async move {
            let req = http::Request::get(url)
                .header("Authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))?;
            let body = client.request(req).await?.into_body().collect().await?.to_bytes();
            anyhow::Ok(body)
        }
    };
    for limit in [500usize, 0] {
        let t = Instant::now();
        let mut cont = String::new();
        let (mut items, mut bytes, mut pages) = (0usize, 0usize, 0usize);
        loop {
            let body = get(format!("/api/v1/pods?limit={limit}&continue={cont}")).await?;
            bytes += body.len();
            pages += 1;
            // Parse only what pagination needs, so the numbers are the server's, not serde_json::Value's.
            let v: ListShape = serde_json::from_slice(&body)?;
            items += v.items.len();
            match v.metadata.cont {
                Some(c) => cont = c,
                None => break,
            }
        }
        println!(
            "LIST pods limit={limit}: {items} items, {pages} pages, {:.1} MiB in {:.2?}; RSS {:.0} MiB",
            bytes as f64 / 1048576.0,
            t.elapsed(),
            rss_mib()
        );
    }

    // 10 watchers, one burst of status changes.
    let changes = 5_000usize;
    let rv = sim.store().current_rv();
    let mut watchers = Vec::new();
    for _ in 0..10 {
        let client = client.clone();
        let req = http::Request::get(format!("{}/api/v1/pods?watch=true&resourceVersion={rv}", sim.url()))
            .header("Authorization", format!("Bearer {}", sim.token()))
            .body(Full::new(Bytes::new()))?;
        watchers.push(tokio::spawn(async move {
            let mut body = client.request(req).await?.into_body();
            let mut seen = 0usize;
            while seen < changes {
                match tokio::time::timeout(Duration::from_secs(30), body.frame()).await {
                    Ok(Some(f)) => {
                        if let Some(d) = f?.data_ref() {
                            seen += d.iter().filter(|b| **b == b'\n').count();
                        }
                    }
                    _ => break,
                }
            }
            anyhow::Ok(seen)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = sim.store().list("v1", "Pod", Some("app-1"));
    let t = Instant::now();
    for i in 0..changes {
        let mut p = all[i % all.len()].clone();
        p["metadata"]["labels"]["churn"] = serde_json::json!(i.to_string());
        p["metadata"]["resourceVersion"] = serde_json::Value::Null;
        sim.store().update(p).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let write = t.elapsed();
    let mut total = 0;
    for w in watchers {
        total += w.await??;
    }
    println!(
        "{changes} updates written in {write:.2?}; 10 watchers received {total} events in {:.2?} total; RSS {:.0} MiB",
        t.elapsed(),
        rss_mib()
    );
    sim.shutdown().await;
    Ok(())
}
