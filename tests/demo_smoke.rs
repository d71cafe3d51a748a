//! `kubestate demo` as a user runs it: one command, then kube-state-metrics answers on its port and
//! `kubectl top nodes` works with the printed kubeconfig; SIGTERM stops everything cleanly. Its keys and
//! kubeconfig are readable by their owner only, and its logs carry no colour codes into a pipe.

mod support;
mod tools;
use support::free_port;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;

/// A plain HTTP GET of `path` on 127.0.0.1:`port`; `None` while nothing listens.
async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    Some(String::from_utf8_lossy(&buf).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_metrics_and_kubectl_top_then_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("demo-smoke-{}-{}", std::process::id(), free_port()));
    let (sim_port, ksm_port, tel_port, ms_port) = (free_port(), free_port(), free_port(), free_port());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubestate"))
        .arg("demo")
        .arg(format!("--sim-listen=127.0.0.1:{sim_port}"))
        .arg(format!("--ksm-port={ksm_port}"))
        .arg(format!("--ksm-telemetry-port={tel_port}"))
        .arg(format!("--ms-port={ms_port}"))
        .arg("--nodes=3")
        .arg("--pods-per-node=4")
        .arg(format!("--dir={}", dir.display()))
        // Informational lines too, so that the check for colour codes below has lines to look at.
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // The banner names the kubeconfig; take it from there as a user would.
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let kubeconfig = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner.push_str(&line);
            banner.push('\n');
            if let Some(p) = line.strip_prefix("kubeconfig:") {
                return p.trim().to_string();
            }
        }
        panic!("demo ended before printing its kubeconfig: {banner}");
    })
    .await
    .expect("no banner");
    assert_eq!(Path::new(&kubeconfig), dir.join("kubeconfig"));
    let log = {
        let mut err = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            let mut out = String::new();
            while let Ok(Some(line)) = err.next_line().await {
                out.push_str(&line);
                out.push('\n');
            }
            out
        })
    };
    // The admin token and every private key: owner only.
    let mut private = vec![dir.join("kubeconfig")];
    private.extend(
        std::fs::read_dir(dir.join("pki"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "key")),
    );
    assert!(private.len() >= 3, "kubeconfig and the CA, serving and front-proxy keys: {private:?}");
    for p in &private {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", p.display());
    }
    // Keep draining stdout so the demo never blocks on a full pipe.
    let rest = tokio::spawn(async move {
        let mut out = banner;
        while let Ok(Some(line)) = lines.next_line().await {
            out.push_str(&line);
            out.push('\n');
        }
        out
    });

    let start = Instant::now();
    loop {
        if let Some(body) = http_get(ksm_port, "/metrics").await
            && body.contains("kube_pod_status_phase{")
        {
            assert!(body.contains("kube_node_info{"), "{body}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "kube-state-metrics never served pod phases");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    if let Some(kubectl) = tools::tool("kubectl") {
        let start = Instant::now();
        loop {
            let out = tokio::process::Command::new(&kubectl)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--cache-dir")
                .arg(dir.join("kubectl-cache"))
                .args(["top", "nodes"])
                .output()
                .await
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            // Every node listed with a measured CPU value, not "<unknown>".
            let measured = |n: &str| {
                stdout
                    .lines()
                    .any(|l| l.starts_with(n) && l.split_whitespace().nth(1).is_some_and(|c| c.ends_with('m')))
            };
            if out.status.success() && ["node-0000", "node-0001", "node-0002"].iter().all(|n| measured(n)) {
                break;
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(start.elapsed() < Duration::from_secs(60), "kubectl top nodes never worked: {stderr}{stdout}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(5), child.wait()).await.expect("demo did not stop").unwrap();
    assert!(exit.success(), "demo exited with {exit}");
    let out = rest.await.unwrap();
    assert!(out.contains(&format!("http://127.0.0.1:{ksm_port}/metrics")), "{out}");
    let log = log.await.unwrap();
    assert!(log.lines().count() > 2, "the demo logged nothing at info: {log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe: {log:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
