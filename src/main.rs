//! `kubestate`: one binary, four subcommands. Invoked as `kube-state-metrics` or `metrics-server`
//! (a symlink in the image) it acts as that subcommand, so upstream manifests work unchanged.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kubestate",
    version,
    about = "kube-state-metrics and metrics-server in one light binary",
    max_term_width = 80
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Expose the state of Kubernetes objects as Prometheus metrics (drop-in for kube-state-metrics).
    #[command(name = "kube-state-metrics", disable_help_flag = true)]
    KubeStateMetrics(PassThrough),
    /// Serve metrics.k8s.io/v1beta1 from kubelet resource metrics (drop-in for metrics-server).
    #[command(name = "metrics-server", disable_help_flag = true)]
    MetricsServer(PassThrough),
    /// Run the in-memory Kubernetes API simulator (`sim render DUMP...`: kube-state-metrics' output for a dump).
    #[command(disable_help_flag = true)]
    Sim(PassThrough),
    /// Start a simulated cluster with both servers attached: real output, no cluster needed.
    #[command(disable_help_flag = true)]
    Demo(PassThrough),
}

/// The subcommand's own flags, parsed by the crate that owns them.
#[derive(clap::Args)]
struct PassThrough {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

fn with_name(name: &str, rest: Vec<OsString>) -> Vec<OsString> {
    std::iter::once(OsString::from(name)).chain(rest).collect()
}

/// `kubestate help <subcommand> [...]` is `kubestate <subcommand> --help`: the subcommand's own parser
/// owns its flags, so it also owns their help.
fn help_as_flag(argv: Vec<OsString>) -> Vec<OsString> {
    let is_sub = |a: &OsString| matches!(a.to_str(), Some("kube-state-metrics" | "metrics-server" | "sim" | "demo"));
    match argv.as_slice() {
        [prog, help, sub, ..] if help == "help" && is_sub(sub) => {
            vec![prog.clone(), sub.clone(), OsString::from("--help")]
        }
        _ => argv,
    }
}

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("kubestate")
        .to_owned();
    match invoked_as.as_str() {
        "kube-state-metrics" => return state_metrics::cli_main(argv),
        "metrics-server" => return metrics_server::cli_main(argv),
        _ => {}
    }
    if argv.is_empty() {
        argv.push(OsString::from("kubestate"));
    }
    let cli = match Cli::try_parse_from(help_as_flag(argv)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version succeed; a refused command line exits 1, as the servers' do.
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    match cli.command {
        Command::KubeStateMetrics(p) => state_metrics::cli_main(with_name("kube-state-metrics", p.args)),
        Command::MetricsServer(p) => metrics_server::cli_main(with_name("metrics-server", p.args)),
        Command::Sim(p) if p.args.first().is_some_and(|a| a == "render") => {
            logging::init(logging::LogFormat::Text, &state_metrics::log_filter("warn"));
            demo::render_main(with_name("kubestate sim render", p.args.into_iter().skip(1).collect()))
        }
        Command::Sim(p) => {
            logging::init(logging::LogFormat::Text, "info");
            kube_sim::cli_main(with_name("kubestate sim", p.args))
        }
        Command::Demo(p) => demo::demo_main(with_name("kubestate demo", p.args)),
    }
}
