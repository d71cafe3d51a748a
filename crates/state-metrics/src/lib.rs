//! kube-state-metrics, rebuilt in Rust.

pub mod authfilter;
pub mod config;
pub mod credcache;
pub mod custom;
pub mod engine;
pub mod family;
pub mod filter;
pub mod ingest;
pub mod key;
pub mod lenient;
pub mod options;
pub mod proj;
pub mod registry;
pub mod resources;
pub mod routes;
pub mod scrape;
pub mod server;
pub mod shard;
pub mod telemetry;
pub mod textstore;
pub mod trim;
pub mod webconfig;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

pub use engine::run;
pub use options::Options;

/// Entry point of `kubestate kube-state-metrics`; `args[0]` is the program name.
pub fn cli_main(args: Vec<OsString>) -> ExitCode {
    if args.get(1).is_some_and(|a| a == "version") {
        println!("kube-state-metrics (kubestate) {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let opts = match Options::try_parse_from(&args) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    init_tracing(opts.v);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kube-state-metrics: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// klog-style verbosity mapped onto tracing levels; `RUST_LOG`, when set, takes precedence.
fn init_tracing(v: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match v {
        0 | 1 => "info",
        2..=4 => "debug",
        _ => "trace",
    };
    // kube's client logs every failed request at ERROR without saying which (a line a second while the
    // API server is down); the list/watch pipelines report failures themselves, once per change of
    // state, with the server's URL and the cause. kube-runtime's watcher (auto-sharding's StatefulSet
    // watch) warns on every retry.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{level},kube_client::client::builder=off,kube_runtime::watcher=error"))
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}

/// Completes on SIGINT or SIGTERM (the latter is how Kubernetes stops a pod).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
