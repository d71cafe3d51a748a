//! kube-state-metrics, rebuilt in Rust.

pub mod authfilter;
pub mod config;
pub mod credcache;
pub mod custom;
pub mod discovery;
pub mod engine;
pub mod family;
pub mod filter;
pub mod ingest;
pub mod key;
pub mod options;
pub mod overview;
pub mod pool;
pub mod proj;
pub mod registry;
pub mod resources;
pub mod routes;
pub mod scrape;
pub mod server;
pub mod shard;
pub mod sharding;
pub mod telemetry;
pub mod textstore;
/// Handing freed memory back after lists and scrape bursts (shared with metrics-server).
pub use memtrim as trim;
pub mod webconfig;

use std::ffi::OsString;
use std::process::ExitCode;

pub use engine::run;
pub use options::Options;

/// Entry point of `kubestate kube-state-metrics`; `args[0]` is the program name.
pub fn cli_main(args: Vec<OsString>) -> ExitCode {
    if args.get(1).is_some_and(|a| a == "version") {
        println!("{}", version_text());
        return ExitCode::SUCCESS;
    }
    let (opts, ignored) = match Options::parse_with_ignored(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            // Help goes to stdout and succeeds; any other refusal exits 1, as upstream's command does.
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    let level = logging::level_for_verbosity(opts.v);
    logging::init(opts.logging_format, &log_filter(&level.to_string()));
    logging::warn_ignored_flags(ignored);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts, logging::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What `kube-state-metrics version` prints: the name and version first, as upstream's build info does.
pub fn version_text() -> String {
    format!(
        "kube-state-metrics (kubestate), version {} (revision: {})\n  platform: {}/{}",
        env!("CARGO_PKG_VERSION"),
        option_env!("KUBESTATE_REVISION").unwrap_or("unknown"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

/// The log filter of kube-state-metrics at `level`, for every command that runs it. kube's client logs
/// every failed request at ERROR without saying which (a line a second while the API server is down);
/// the list/watch pipelines report failures themselves, once per change of state, with the server's
/// URL and the cause. kube-runtime's watcher (auto-sharding's StatefulSet watch) warns on every retry.
pub fn log_filter(level: &str) -> String {
    format!("{level},kube_client::client::builder=off,kube_runtime::watcher=error")
}
