//! The overview page at `/` in a real browser: headless Chromium driven through chromedriver (WebDriver over
//! HTTP), against kube-state-metrics on kube-sim. The numbers shown must be the cluster's (as kubectl
//! reads it), a change in the cluster must reach the open page without a reload, and screenshots at a
//! desktop and a phone width are saved and looked at. `.ci/run` installs `chromium` and `chromium-driver`;
//! under `CI=true` a missing one fails the test.

mod support;
mod tools;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use support::{Cluster, Ksm, eventually, get};

/// A chromedriver process and one browser session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Drop for Browser {
    /// Runs on every exit, a failed assertion included: ends the session (chromedriver then quits
    /// Chromium), and kills chromedriver's process group, so no renderer outlives the test.
    fn drop(&mut self) {
        let addr = self.base.trim_start_matches("http://").to_owned();
        if !self.session.is_empty()
            && let Ok(mut tcp) = std::net::TcpStream::connect(&addr)
        {
            use std::io::{Read, Write};
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let req = format!("DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n", self.session);
            // The answer comes once Chromium has quit; chromedriver may keep the connection open after it.
            if tcp.write_all(req.as_bytes()).is_ok() {
                let _ = tcp.read(&mut [0u8; 1024]);
            }
        }
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn call(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("{status}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{status}: {v}"));
    }
    Ok(v["value"].clone())
}

impl Browser {
    async fn start(chromedriver: &std::path::Path, chromium: &std::path::Path) -> Browser {
        let port = support::free_port();
        // In a process group of its own, which the browser it starts joins: dropping kills them all.
        let driver = Command::new(chromedriver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        // Owned from here, so a failure below still ends chromedriver.
        let mut b = Browser { driver, base: base.clone(), session: String::new() };
        let status = format!("{base}/status");
        eventually(Duration::from_secs(20), || async {
            let v = call("GET", &status, None).await?;
            if v["ready"] == true { Ok(()) } else { Err(format!("not ready: {v}")) }
        })
        .await;
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--window-size=1100,1600"]
        }}}});
        let v = call("POST", &format!("{base}/session"), Some(caps)).await.expect("new session");
        b.session = v["sessionId"].as_str().expect("session id").to_owned();
        b
    }

    async fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}/{what}", self.base, self.session);
        call(method, &url, body).await.unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    async fn open(&self, url: &str) {
        self.cmd("POST", "url", Some(json!({ "url": url }))).await;
    }

    async fn js(&self, script: &str) -> Value {
        self.cmd("POST", "execute/sync", Some(json!({ "script": script, "args": [] }))).await
    }

    async fn window(&self, width: u32, height: u32) {
        self.cmd("POST", "window/rect", Some(json!({ "width": width, "height": height }))).await;
    }

    /// A PNG of the viewport.
    async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.cmd("GET", "screenshot", None).await;
        base64_decode(b64.as_str().expect("screenshot is base64"))
    }

    /// What the cards say: label → number shown.
    async fn cards(&self) -> std::collections::BTreeMap<String, String> {
        let v = self
            .js("return Array.from(document.querySelectorAll('[data-card]')).map(e => [e.dataset.card, e.querySelector('b').textContent])")
            .await;
        v.as_array()
            .expect("cards")
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
            .collect()
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &c)| acc | (u32::from(val(c)) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Width and height from a PNG's header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "not a PNG");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The cluster as kubectl reports it.
struct Counts {
    pods: usize,
    running: usize,
    pending: usize,
    failed: usize,
    nodes: usize,
    nodes_ready: usize,
}

fn kubectl_counts(kubectl: &std::path::Path, kubeconfig: &std::path::Path) -> Counts {
    let run = |args: &[&str]| -> Value {
        let o = Command::new(kubectl)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(args)
            .output()
            .expect("run kubectl");
        assert!(o.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).expect("kubectl json")
    };
    let pods = run(&["get", "pods", "-A", "-o", "json"]);
    let items = pods["items"].as_array().unwrap();
    let phase = |p: &str| items.iter().filter(|i| i["status"]["phase"] == p).count();
    let nodes = run(&["get", "nodes", "-o", "json"]);
    let ready = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .count();
    let nodes = nodes["items"].as_array().unwrap().len();
    Counts {
        pods: items.len(),
        running: phase("Running"),
        pending: phase("Pending"),
        failed: phase("Failed"),
        nodes,
        nodes_ready: ready,
    }
}

// Several threads: kubectl runs blocking while the simulator, in this runtime, answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_the_cluster_updates_itself_and_fits_a_phone() {
    let (Some(chromedriver), Some(chromium), Some(kubectl)) =
        (tools::tool("chromedriver"), tools::tool("chromium"), tools::tool("kubectl"))
    else {
        return;
    };
    let cfg = kube_sim::SimConfig {
        kubelets: false,
        seed: 3,
        synthetic: Some(kube_sim::SyntheticConfig { nodes: 3, pods_per_node: 5, namespaces: 2, ..Default::default() }),
        ..Default::default()
    };
    let c = Cluster::start_with(cfg, &[]).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--overview-usage=false"]);
    k.wait_ready().await;

    // Without JavaScript the page is complete, and light.
    let plain = get(&k.url("/"), &[]).await;
    assert_eq!(plain.header("content-type"), Some("text/html; charset=utf-8"));
    let html = plain.text();
    assert!(html.len() < 100 * 1024, "{} bytes", html.len());
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");

    let b = Browser::start(&chromedriver, &chromium).await;
    b.open(&k.url("/")).await;
    let n = kubectl_counts(&kubectl, &c.kubeconfig);
    let cards = b.cards().await;
    assert_eq!(cards["pods"], n.pods.to_string(), "{cards:?}");
    assert_eq!(cards["running"], n.running.to_string(), "{cards:?}");
    assert_eq!(cards["pending"], n.pending.to_string(), "{cards:?}");
    assert_eq!(cards["failed"], n.failed.to_string(), "{cards:?}");
    assert_eq!(cards["nodes ready"], format!("{}/{}", n.nodes_ready, n.nodes), "{cards:?}");

    let desktop = b.screenshot().await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("overview-desktop.png"), &desktop).unwrap();
    let (w, h) = png_size(&desktop);
    assert!(w >= 1000 && h >= 1000, "desktop screenshot {w}x{h}");
    // A blank page compresses to a few KiB; the overview's text and tables do not.
    assert!(desktop.len() > 40 * 1024, "desktop screenshot looks blank: {} bytes", desktop.len());

    // A change reaches the open page by itself (same document: the marker survives).
    b.js("window.kubestateMarker = 42; return null").await;
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "browser-test-failed", "namespace": "default"},
        "spec": {"nodeName": "node-0000", "containers": [{"name": "c", "image": "img"}]},
        "status": {"phase": "Failed", "reason": "Evicted"}
    }));
    let want = (n.failed + 1).to_string();
    let mut seen = String::new();
    for _ in 0..100 {
        seen = b.cards().await["failed"].clone();
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen, want, "the failed pod did not reach the open page");
    assert_eq!(b.js("return window.kubestateMarker").await, json!(42), "the page reloaded instead of updating");
    let listed = b.js("return document.getElementById('overview').textContent").await;
    assert!(listed.as_str().unwrap().contains("browser-test-failed"), "the new pod is listed among the problems");

    // A phone: nothing wider than the screen but the tables, which scroll inside themselves.
    b.window(390, 844).await;
    let overflow = b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth").await;
    assert!(overflow.as_i64().unwrap() <= 0, "the page is wider than a phone by {overflow}px");
    let phone = b.screenshot().await;
    std::fs::write(dir.join("overview-phone.png"), &phone).unwrap();
    let (w, _) = png_size(&phone);
    assert!(w < 500 && phone.len() > 20 * 1024, "phone screenshot {w}px wide, {} bytes", phone.len());
    k.assert_running();
}
