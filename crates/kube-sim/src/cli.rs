//! `kubestate sim` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::{SimConfig, SyntheticConfig};

/// An in-memory Kubernetes API server for tests, benchmarks and demos.
///
/// `kubestate sim render DUMP... [kube-state-metrics flags]` instead prints what kube-state-metrics
/// would report for the objects in the dumps and exits (see `kubestate sim render --help`).
#[derive(Debug, Parser)]
#[command(name = "kubestate sim", next_line_help = true, max_term_width = 80)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "KUBE_SIM_LISTEN", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// The admin bearer token.
    #[arg(long, env = "KUBE_SIM_TOKEN", default_value = crate::DEFAULT_TOKEN)]
    token: String,
    /// kube-apiserver style static token file (token,user,uid,"group1,group2").
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Keep the generated CA and serving certificate here so restarts reuse them.
    #[arg(long, env = "KUBE_SIM_CERT_DIR")]
    cert_dir: Option<PathBuf>,
    /// Write a kubeconfig for this simulator to FILE.
    #[arg(long, env = "KUBE_SIM_KUBECONFIG_OUT")]
    kubeconfig_out: Option<PathBuf>,
    /// Number of events retained for watch resumption.
    #[arg(long, default_value_t = 10_000)]
    event_window: usize,
    /// Seconds between watch bookmarks.
    #[arg(long, default_value_t = 60)]
    bookmark_interval: u64,
    /// Fixture files or directories (YAML, multi-document, `kind: List`, JSON).
    #[arg(long, value_delimiter = ',')]
    fixtures: Vec<PathBuf>,
    /// Synthetic cluster: number of nodes (0 = none).
    #[arg(long, default_value_t = 0)]
    nodes: usize,
    /// Synthetic cluster: pods per node.
    #[arg(long, default_value_t = 10)]
    pods_per_node: usize,
    /// Synthetic cluster: number of workload namespaces.
    #[arg(long, default_value_t = 3)]
    namespaces: usize,
    /// Changes per second applied to the synthetic cluster.
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// Do not simulate kubelets.
    #[arg(long)]
    no_kubelets: bool,
    /// Simulate a kubelet for every node, rewriting its InternalIP and kubelet port to reach it.
    /// Without it only nodes annotated kube-sim.kubestate.dev/simulated-kubelet=true get one (the
    /// synthetic cluster's nodes are), so nodes loaded from a dump keep their addresses.
    #[arg(long)]
    kubelets_for_all_nodes: bool,
    /// Authorization rules (YAML list of users/groups → verbs, resources, namespaces,
    /// nonResourceURLs); without it every authenticated user may do anything.
    #[arg(long)]
    authz_file: Option<PathBuf>,
    /// Refuse streaming lists (`sendInitialEvents=true`) as a kube-apiserver on etcd 3.4 does:
    /// 200, then one ERROR event with a 500 Status. The admin route
    /// POST /faults/streaming-lists?enabled=true|false switches it while running.
    #[arg(long)]
    refuse_streaming_lists: bool,
    /// Answer JSON only, as some aggregated API servers do. Without it, built-in kinds are
    /// answered as protobuf to clients that prefer it (client-go's
    /// `Accept: application/vnd.kubernetes.protobuf,application/json`).
    #[arg(long)]
    json_only: bool,
    /// Feature gates, as kube-apiserver takes them: ShardedListAndWatch=true honours the KEP-5866
    /// shardSelector on lists and watches (alpha in v1.36; off, the parameter is ignored).
    #[arg(long, value_parser = parse_feature_gates, default_value = "")]
    feature_gates: FeatureGates,
    /// Pretend to be kube-apiserver of this Kubernetes version (1.28 to 1.36; "v1.30", "1.30.4"
    /// also do): discovery and the API serve only what it serves by default, /version says it,
    /// the rest is 404.
    #[arg(long, value_parser = parse_minor, default_value = "1.36")]
    kubernetes_version: u32,
    /// Beta APIs to serve besides the defaults, as kube-apiserver takes them:
    /// admissionregistration.k8s.io/v1beta1=true serves the admission policies at v1beta1
    /// where the version has them and not yet at v1 (1.28-1.29 validating, 1.34-1.35 mutating).
    #[arg(long, value_parser = parse_runtime_config, default_value = "")]
    runtime_config: RuntimeConfig,
    /// Seed of the synthetic generator and churn.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Serve the fault-injection admin routes on this address: plain HTTP without
    /// authentication, so keep it on loopback. A port apart from the API, so that
    /// stopping the API port can be driven over HTTP too.
    ///
    /// Routes (JSON answers; each POST answers with the new state):
    ///   GET  /faults                  current state
    ///   GET  /faults/requests?prefix=P
    ///                                 requests seen under path prefix P
    ///   POST /faults/cut-watches      end every open watch
    ///   POST /faults/fail?n=3&code=429&retry_after=2&prefix=/api
    ///                                 the next n requests under prefix
    ///                                 fail with code (Retry-After: s)
    ///   POST /faults/latency?ms=200   delay every API request (0 ends)
    ///   POST /faults/expire           forget history: resuming
    ///                                 watches get 410 Gone
    ///   POST /faults/stop             close the API port and drop
    ///                                 its connections
    ///   POST /faults/start            listen again on the same address
    ///   POST /faults/clear            no errors, no latency, listening
    ///   POST /faults/streaming-lists?enabled=false
    ///                                 refuse streaming lists (true
    ///                                 serves them)
    ///   GET  /requests?prefix=P&verb=V
    ///                                 every request: method, path,
    ///                                 query, verb, status, content
    ///                                 type, encoding, bytes; totals
    ///   POST /requests/reset          forget the requests seen so far
    #[arg(long, env = "KUBE_SIM_ADMIN_ADDRESS", verbatim_doc_comment)]
    admin_address: Option<SocketAddr>,
}

/// The minor of a Kubernetes version given as 1.N, v1.N or 1.N.P.
fn parse_minor(s: &str) -> Result<u32, String> {
    let v = s.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    let minor = match (parts.next(), parts.next()) {
        (Some("1"), Some(m)) => m.parse::<u32>().map_err(|_| format!("not a Kubernetes version: {s}"))?,
        _ => return Err(format!("not a Kubernetes version: {s} (want 1.N)")),
    };
    if !(crate::resources::OLDEST_MINOR..=crate::resources::NEWEST_MINOR).contains(&minor) {
        return Err(format!(
            "Kubernetes 1.{minor} is not simulated (1.{} to 1.{} are)",
            crate::resources::OLDEST_MINOR,
            crate::resources::NEWEST_MINOR
        ));
    }
    Ok(minor)
}

/// The feature gates kube-sim knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FeatureGates {
    sharded_list_and_watch: bool,
}

fn parse_feature_gates(s: &str) -> Result<FeatureGates, String> {
    let mut g = FeatureGates::default();
    for kv in s.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("missing bool value for {kv}"))?;
        let on = match v.trim() {
            "true" => true,
            "false" => false,
            other => {
                return Err(format!(
                    "invalid value of {k}={other}, err: strconv.ParseBool: parsing {other:?}: invalid syntax"
                ));
            }
        };
        match k.trim() {
            "ShardedListAndWatch" => g.sharded_list_and_watch = on,
            other => return Err(format!("unrecognized feature gate: {other}")),
        }
    }
    Ok(g)
}

/// The beta group/versions `--runtime-config` turns on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RuntimeConfig(Vec<String>);

/// `--runtime-config` as kube-apiserver reads it: `group/version=true|false`, comma-separated (a bare
/// `group/version` means true); only the beta group/versions kube-sim simulates are accepted.
fn parse_runtime_config(s: &str) -> Result<RuntimeConfig, String> {
    let known = crate::resources::beta_group_versions();
    let mut on = Vec::new();
    for kv in s.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
        let (gv, v) = kv.split_once('=').unwrap_or((kv, "true"));
        let enable = match v.trim() {
            "true" => true,
            "false" => false,
            other => return Err(format!("invalid value of {gv}={other}: expected true or false")),
        };
        let gv = gv.trim();
        if !known.iter().any(|k| k == gv) {
            return Err(format!("kube-sim does not simulate {gv} (it can turn on: {})", known.join(", ")));
        }
        on.retain(|g: &String| g != gv);
        if enable {
            on.push(gv.to_owned());
        }
    }
    Ok(RuntimeConfig(on))
}

/// Entry point of `kubestate sim`; `args[0]` is the program name.
pub fn cli_main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim: starting runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(a: Args) -> anyhow::Result<()> {
    let synthetic = (a.nodes > 0).then(|| SyntheticConfig {
        nodes: a.nodes,
        pods_per_node: a.pods_per_node,
        namespaces: a.namespaces,
        ..SyntheticConfig::default()
    });
    let cfg = SimConfig {
        listen: a.listen,
        tls: !a.plain_http,
        token: a.token,
        token_auth_file: a.token_auth_file,
        cert_dir: a.cert_dir,
        event_window: a.event_window,
        bookmark_interval: Duration::from_secs(a.bookmark_interval.max(1)),
        fixtures: a.fixtures,
        synthetic,
        churn_per_sec: a.churn,
        seed: a.seed,
        hooks: Vec::new(),
        kubelets: !a.no_kubelets,
        kubelets_for_all_nodes: a.kubelets_for_all_nodes,
        authz: a.authz_file.as_deref().map(crate::AuthzRules::from_file).transpose()?,
        streaming_lists: !a.refuse_streaming_lists,
        json_only: a.json_only,
        sharded_list_and_watch: a.feature_gates.sharded_list_and_watch,
        kubernetes_minor: a.kubernetes_version,
        runtime_config: a.runtime_config.0,
        ..SimConfig::default()
    };
    let mut sim = crate::start(cfg).await?;
    if let Some(addr) = a.admin_address {
        let bound = sim.serve_admin(addr).await?;
        println!("kube-sim fault admin at http://{bound}/faults");
    }
    // As kube-apiserver, publish the front-proxy settings from the start so extension API servers
    // started next to the simulator find them.
    sim.publish_extension_auth();
    println!("kube-sim serving at {}", sim.url());
    if let Some(p) = &a.kubeconfig_out {
        sim.write_kubeconfig(p)?;
        println!("kubeconfig written to {}", p.display());
    }
    logging::shutdown_signal().await;
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        let a = Args::try_parse_from([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "t",
            "--fixtures",
            "a.yaml,dir",
            "--nodes",
            "5",
            "--churn",
            "2.5",
            "--seed",
            "9",
            "--plain-http",
            "--event-window",
            "50",
        ])
        .unwrap();
        assert_eq!(a.token, "t");
        assert_eq!(a.fixtures.len(), 2);
        assert_eq!((a.nodes, a.seed, a.event_window), (5, 9, 50));
        assert!(a.plain_http && (a.churn - 2.5).abs() < f64::EPSILON);
        assert_eq!(Args::try_parse_from(["sim"]).unwrap().token, crate::DEFAULT_TOKEN);
        let d = Args::try_parse_from(["sim"]).unwrap();
        assert!(!d.no_kubelets && d.authz_file.is_none() && d.admin_address.is_none() && !d.refuse_streaming_lists);
        assert!(Args::try_parse_from(["sim", "--refuse-streaming-lists"]).unwrap().refuse_streaming_lists);
        assert!(Args::try_parse_from(["sim", "--json-only"]).unwrap().json_only && !d.json_only);
        let g = Args::try_parse_from(["sim", "--feature-gates=ShardedListAndWatch=true"]).unwrap().feature_gates;
        assert!(g.sharded_list_and_watch && !d.feature_gates.sharded_list_and_watch);
        assert_eq!(d.kubernetes_version, 36);
        for (v, minor) in [("1.28", 28), ("v1.30", 30), ("1.33.2", 33)] {
            let a = Args::try_parse_from(["sim", "--kubernetes-version", v]).unwrap();
            assert_eq!(a.kubernetes_version, minor, "{v}");
        }
        for bad in ["1.27", "1.37", "2.0", "x"] {
            assert!(Args::try_parse_from(["sim", "--kubernetes-version", bad]).is_err(), "{bad}");
        }
        assert_eq!(d.runtime_config, RuntimeConfig::default());
        let beta = "admissionregistration.k8s.io/v1beta1";
        for (given, want) in [
            (format!("{beta}=true"), vec![beta]),
            (beta.to_owned(), vec![beta]),
            (format!("{beta}=true,{beta}=false"), vec![]),
        ] {
            let a = Args::try_parse_from(["sim", "--runtime-config", &given]).unwrap();
            assert_eq!(a.runtime_config.0, want, "{given}");
        }
        for bad in ["apps/v1beta2=true", "admissionregistration.k8s.io/v1beta1=yes"] {
            let e = Args::try_parse_from(["sim", "--runtime-config", bad]).unwrap_err().to_string();
            assert!(e.contains("v1beta") && !e.contains("RuntimeConfig"), "{e}");
        }
        for bad in [
            "--feature-gates=Nope=true",
            "--feature-gates=ShardedListAndWatch=yes",
            "--feature-gates=ShardedListAndWatch",
        ] {
            assert!(Args::try_parse_from(["sim", bad]).is_err(), "{bad}");
        }
        let adm = Args::try_parse_from(["sim", "--admin-address", "127.0.0.1:7000"]).unwrap();
        let help = <Args as clap::CommandFactory>::command().render_long_help().to_string();
        for route in [
            "GET  /faults ",
            "/faults/fail?n=3&code=429",
            "/faults/stop",
            "/faults/start",
            "/faults/expire",
            "/faults/streaming-lists?enabled=false",
            "GET  /requests",
        ] {
            assert!(help.contains(route), "{route} missing from --help:\n{help}");
        }
        assert_eq!(adm.admin_address, Some(SocketAddr::from(([127, 0, 0, 1], 7000))));
        let k = Args::try_parse_from(["sim", "--no-kubelets", "--authz-file", "rules.yaml"]).unwrap();
        assert!(k.no_kubelets);
        assert_eq!(k.authz_file.as_deref(), Some(std::path::Path::new("rules.yaml")));
        // An unreadable rule file is an error, not an open door.
        assert_eq!(
            cli_main(vec!["sim".into(), "--listen=127.0.0.1:0".into(), "--authz-file=/nonexistent/rules.yaml".into()]),
            ExitCode::FAILURE
        );
        assert!(Args::try_parse_from(["sim", "--listen", "nope"]).is_err());
        assert_eq!(cli_main(vec!["sim".into(), "--bogus".into()]), ExitCode::from(2));
    }
}
