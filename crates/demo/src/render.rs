//! `kubestate sim render`: what would kube-state-metrics report for this dump?
//!
//! Loads the dumps (`kubectl get ... -A -o yaml|json`, API list responses, directories of them) into an
//! in-process kube-sim, runs the real kube-state-metrics engine against it with the flags given,
//! scrapes `/metrics` once every resource is synced, prints the exposition text and exits. So a CI job
//! can unit-test alert rules against a real cluster's state with `promtool test rules`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{CommandFactory, Parser};
use tokio_util::sync::CancellationToken;

const USAGE: &str = "\
Usage: kubestate sim render DUMP... [kube-state-metrics flags]

Prints what kube-state-metrics would report for the objects in DUMP (files or directories of
what `kubectl get ... -A -o yaml|json` writes) and exits. The flags are kube-state-metrics' own
(--resources, --metric-allowlist, --metric-labels-allowlist, --custom-resource-state-config-file,
...); the server flags (--kubeconfig, --apiserver, --port, --host, --telemetry-port,
--telemetry-host) are the command's to choose.

Options:
      --timeout <SECONDS>  How long to wait for every resource to sync [default: 300]
  -h, --help               Print help
";

/// Flags render sets itself: the in-process API server and loopback ports.
const OWN: &[&str] = &["kubeconfig", "apiserver", "port", "host", "telemetry-port", "telemetry-host"];

/// The command line split into dumps, render's own settings and kube-state-metrics' flags.
#[derive(Debug, PartialEq)]
struct Args {
    dumps: Vec<PathBuf>,
    timeout: Duration,
    ksm: Vec<OsString>,
}

/// Whether kube-state-metrics' flag `--name` takes its value from the next argument.
fn takes_value(name: &str) -> bool {
    let cmd = state_metrics::Options::command();
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(name))
        .is_some_and(|a| a.get_action().takes_values() && a.get_num_args().is_none_or(|n| n.min_values() > 0))
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut out = Args { dumps: Vec::new(), timeout: Duration::from_secs(300), ksm: Vec::new() };
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" {
            return Ok(None);
        }
        let Some(flag) = a.strip_prefix("--") else {
            if a.starts_with('-') && a.len() > 1 {
                out.ksm.push(a.into());
                continue;
            }
            out.dumps.push(PathBuf::from(a));
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        if name == "timeout" {
            let v = inline.or_else(|| it.next().cloned()).ok_or("--timeout needs a value")?;
            let secs: u64 = v.parse().map_err(|_| format!("--timeout: not a number of seconds: {v}"))?;
            out.timeout = Duration::from_secs(secs);
            continue;
        }
        if OWN.contains(&name) {
            return Err(format!("--{name} is chosen by render (it runs its own API server and ports)"));
        }
        out.ksm.push(a.into());
        if inline.is_none() && takes_value(name) {
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            out.ksm.push(v.into());
        }
    }
    if out.dumps.is_empty() {
        return Err("no dump given".to_string());
    }
    Ok(Some(out))
}

/// Entry point of `kubestate sim render`; `args[0]` is the program name.
pub fn render_main(args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args.into_iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let a = match parse(&args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("render: starting runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(render(a)) {
        Ok(text) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("render: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A loopback port free now (the engine binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Status and body of a plain GET on loopback; `None` while nothing answers.
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    Some((status, if chunked { dechunk(body) } else { body.to_string() }))
}

/// The payload of a chunked HTTP/1.1 body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// Load the dumps, run the engine until it is ready, scrape once.
async fn render(a: Args) -> anyhow::Result<String> {
    let dir = TempDir::new()?;
    let sim = kube_sim::start(kube_sim::SimConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: false,
        kubelets: false,
        fixtures: a.dumps.clone(),
        ..kube_sim::SimConfig::default()
    })
    .await
    .context("loading the dumps")?;
    let kubeconfig = dir.0.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let (port, telemetry) = (free_port()?, free_port()?);
    let mut argv: Vec<OsString> = vec!["kube-state-metrics".into()];
    argv.extend(a.ksm.iter().cloned());
    argv.extend(
        [
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--port={port}"),
            "--host=127.0.0.1".to_string(),
            format!("--telemetry-port={telemetry}"),
            "--telemetry-host=127.0.0.1".to_string(),
        ]
        .map(OsString::from),
    );
    let opts = state_metrics::Options::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{}", e.render()))?;
    let stop = CancellationToken::new();
    let engine_stop = stop.clone();
    let mut engine = tokio::spawn(async move { state_metrics::run(opts, engine_stop.cancelled_owned()).await });
    let result = async {
        let start = Instant::now();
        loop {
            if let Some((200, _)) = get(port, "/readyz").await {
                break;
            }
            if engine.is_finished() {
                return match (&mut engine).await {
                    Ok(Err(e)) => Err(e.context("kube-state-metrics stopped")),
                    _ => Err(anyhow::anyhow!("kube-state-metrics stopped before it was ready")),
                };
            }
            if start.elapsed() > a.timeout {
                let why = get(port, "/readyz").await.map(|(_, b)| b).unwrap_or_default();
                anyhow::bail!("kube-state-metrics not ready after {:?}: {}", a.timeout, why.trim());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        match get(port, "/metrics").await {
            Some((200, body)) => Ok(body),
            Some((code, body)) => Err(anyhow::anyhow!("/metrics answered {code}: {}", body.trim())),
            None => Err(anyhow::anyhow!("/metrics did not answer")),
        }
    }
    .await;
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), engine).await;
    sim.shutdown().await;
    result
}

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!("kubestate-render-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Option<Args>, String> {
        parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn dumps_and_kube_state_metrics_flags_are_told_apart() {
        let a =
            args(&["dump.json", "--resources", "pods,nodes", "dir", "--metric-allowlist=kube_pod_.*", "--timeout=9"])
                .unwrap()
                .unwrap();
        assert_eq!(a.dumps, [PathBuf::from("dump.json"), PathBuf::from("dir")]);
        assert_eq!(a.ksm, ["--resources", "pods,nodes", "--metric-allowlist=kube_pod_.*"].map(OsString::from));
        assert_eq!(a.timeout, Duration::from_secs(9));
        assert!(args(&["--help"]).unwrap().is_none());
        assert!(args(&["--resources=pods"]).unwrap_err().contains("no dump"));
        assert!(args(&["d.json", "--port=1"]).unwrap_err().contains("--port is chosen by render"));
        assert!(args(&["d.json", "--kubeconfig", "x"]).unwrap_err().contains("--kubeconfig"));
        assert!(args(&["d.json", "--resources"]).unwrap_err().contains("needs a value"));
        assert_eq!(dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
    }
}
