//! kube-state-metrics, rebuilt in Rust.

pub mod authfilter;
pub mod columns;
pub mod compact;
pub mod custom;
pub mod engine;
pub mod family;
pub mod filter;
pub mod lenient;
pub mod options;
pub mod registry;
pub mod resources;
pub mod scrape;
pub mod server;
pub mod shard;
pub mod store;
pub mod telemetry;
/// Handing freed memory back after lists and scrape bursts (shared with metrics-server).
pub use memtrim as trim;
pub mod watch;
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
    // kube-runtime's watcher warns on every retry of a forbidden list; the watch loop reports such a
    // failure once itself, so that target is kept to errors unless RUST_LOG says otherwise.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},kube_runtime::watcher=error")));
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
