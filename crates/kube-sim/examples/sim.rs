//! Run the simulator from the crate alone: `cargo run -p kube-sim --example sim -- --help`.
fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    kube_sim::cli_main(std::env::args_os().collect())
}
