//! An in-memory Kubernetes API server: list/watch/CRUD/patch over HTTP(S) for kube-rs, kubectl and
//! the kubestate servers, with fixtures, a synthetic cluster generator, churn and fault injection.

pub mod accounting;
pub mod aggregation;
pub mod authz;
mod client;
pub mod controllers;
pub mod error;
pub mod faults;
pub mod fixtures;
pub mod gzip;
pub mod http;
pub mod kubelets;
mod metadata;
pub mod patch;
pub mod pretty;
pub mod protobuf;
pub mod resources;
pub mod review;
pub mod selector;
pub mod server;
pub mod shard;
pub mod store;
pub mod synth;
pub mod table;
pub mod tls;

mod cli;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use accounting::RequestRecord;
pub use authz::{AuthzRule, AuthzRules};
pub use error::SimError;
pub use faults::{ErrorFault, FaultError, Faults};
pub use http::{Body, HookRequest, RouteHook, User};
pub use kubelet_sim::{Fault as KubeletFault, KubeletSim};
pub use store::Store;
pub use synth::SyntheticConfig;

pub use cli::cli_main;

/// The admin bearer token used when none is given.
pub const DEFAULT_TOKEN: &str = "kube-sim-admin-token";

/// How to run a simulator.
#[derive(Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub tls: bool,
    pub token: String,
    pub token_auth_file: Option<PathBuf>,
    pub cert_dir: Option<PathBuf>,
    /// Events kept for watch resumption; older resourceVersions get 410.
    pub event_window: usize,
    pub bookmark_interval: Duration,
    pub fixtures: Vec<PathBuf>,
    pub synthetic: Option<SyntheticConfig>,
    pub churn_per_sec: f64,
    pub seed: u64,
    /// Extra routes tried before the built-in ones.
    pub hooks: Vec<Arc<dyn RouteHook>>,
    /// Simulated kubelets for the nodes that ask for one (see [`kubelets`]).
    pub kubelets: bool,
    /// Simulated kubelets for every node, rewriting its address to reach it (fixture nodes keep
    /// theirs otherwise).
    pub kubelets_for_all_nodes: bool,
    /// Authorization rules for API requests and SubjectAccessReviews; `None` allows every
    /// authenticated user.
    pub authz: Option<AuthzRules>,
    /// Serve streaming lists (`sendInitialEvents=true`), as a v1.36 server on etcd 3.5.13+/3.6
    /// does; `false` refuses them as one on etcd 3.4 does (see [`Faults::set_streaming_lists`]).
    pub streaming_lists: bool,
    /// Answer JSON only, even to clients that prefer protobuf, as some aggregated API servers do
    /// (see [`protobuf`]); `false` answers built-in kinds as protobuf when the client asks first.
    pub json_only: bool,
    /// How long a read at a resourceVersion the store has not reached waits before it answers
    /// 504 `ResourceVersionTooLarge` (the watch cache waits 3 s).
    pub rv_wait: Duration,
    /// The Kubernetes minor version to pretend to be (28 to 36): discovery lists and the API
    /// serves only the built-in types its kube-apiserver serves by default, `/version` says it, and
    /// the rest answers 404 as on that server.
    pub kubernetes_minor: u32,
    /// Beta group/versions served besides the defaults, as kube-apiserver's `--runtime-config`
    /// turns them on (`admissionregistration.k8s.io/v1beta1`); see [`resources::beta_group_versions`].
    pub runtime_config: Vec<String>,
    /// The `ShardedListAndWatch` feature gate (alpha in v1.36, off by default): lists and watches
    /// honour `shardSelector` (see [`shard`]); off, the parameter is ignored as a real server does.
    pub sharded_list_and_watch: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: true,
            token: DEFAULT_TOKEN.to_string(),
            token_auth_file: None,
            cert_dir: None,
            event_window: 10_000,
            bookmark_interval: Duration::from_secs(60),
            fixtures: Vec::new(),
            synthetic: None,
            churn_per_sec: 0.0,
            seed: 1,
            hooks: Vec::new(),
            kubelets: true,
            kubelets_for_all_nodes: false,
            authz: None,
            streaming_lists: true,
            json_only: false,
            rv_wait: Duration::from_secs(3),
            sharded_list_and_watch: false,
            kubernetes_minor: resources::NEWEST_MINOR,
            runtime_config: Vec::new(),
        }
    }
}

/// Another cluster for [`SimHandle::restart_as`]: what it holds and where its resourceVersions start.
#[derive(Clone)]
pub struct Cluster {
    pub fixtures: Vec<PathBuf>,
    pub synthetic: Option<SyntheticConfig>,
    pub seed: u64,
    /// Objects created after the fixtures and the synthetic cluster, metadata kept as given.
    pub objects: Vec<serde_json::Value>,
    /// The resourceVersion the new cluster counts from. The default, 100, is below anything a
    /// simulator started the usual way has handed out (it starts at 1000), as after an etcd restore.
    pub first_rv: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Self { fixtures: Vec::new(), synthetic: None, seed: 1, objects: Vec::new(), first_rv: 100 }
    }
}

/// Fill a fresh store: the namespaces a new server has, fixtures, then the synthetic cluster.
fn populate(store: &Store, fixtures: &[PathBuf], synthetic: Option<&SyntheticConfig>, seed: u64) -> anyhow::Result<()> {
    fixtures::ensure_namespace(store, "default")?;
    fixtures::ensure_namespace(store, "kube-system")?;
    if !fixtures.is_empty() {
        let n = fixtures::load(store, fixtures)?;
        tracing::info!(objects = n, "fixtures loaded");
    }
    if let Some(syn) = synthetic {
        let n = synth::generate(store, syn, seed)?;
        tracing::info!(objects = n, "synthetic cluster generated");
    }
    Ok(())
}

/// A running simulator.
pub struct SimHandle {
    addr: SocketAddr,
    token: String,
    tls: Option<tls::TlsMaterial>,
    front_proxy: tls::FrontProxy,
    fleet: Option<Arc<kubelets::Fleet>>,
    state: Arc<server::State>,
    event_window: usize,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Start a simulator: load fixtures and the synthetic cluster, bind, and serve in the background.
pub async fn start(cfg: SimConfig) -> anyhow::Result<SimHandle> {
    if !(resources::OLDEST_MINOR..=resources::NEWEST_MINOR).contains(&cfg.kubernetes_minor) {
        anyhow::bail!(
            "Kubernetes version 1.{} is not simulated (1.{} to 1.{} are)",
            cfg.kubernetes_minor,
            resources::OLDEST_MINOR,
            resources::NEWEST_MINOR
        );
    }
    let known = resources::beta_group_versions();
    if let Some(gv) = cfg.runtime_config.iter().find(|gv| !known.contains(gv)) {
        anyhow::bail!("runtime-config: kube-sim does not simulate {gv} (it can turn on: {})", known.join(", "));
    }
    let store = Arc::new(Store::serving(cfg.event_window, store::FIRST_RV, cfg.kubernetes_minor, &cfg.runtime_config));
    let mut users = std::collections::HashMap::new();
    if let Some(f) = &cfg.token_auth_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        users = server::parse_token_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
    }
    users.insert(
        cfg.token.clone(),
        User {
            name: "admin".into(),
            uid: "admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        },
    );
    populate(&store, &cfg.fixtures, cfg.synthetic.as_ref(), cfg.seed)?;
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let tls = if cfg.tls {
        let ips = [addr.ip()];
        Some(match &cfg.cert_dir {
            Some(d) => tls::TlsMaterial::load_or_create(d, &ips)?,
            None => tls::TlsMaterial::generate(&ips)?,
        })
    } else {
        None
    };
    let server_cfg = tls.as_ref().map(|t| t.server_config()).transpose()?;
    let front_proxy = tls::TlsMaterial::front_proxy(cfg.cert_dir.as_deref())?;
    let fleet = if cfg.kubelets {
        // Kubelet certificates come from the serving CA; a plain-HTTP simulator still needs one.
        let pki = match &tls {
            Some(t) => t.clone(),
            None => tls::TlsMaterial::generate(&[])?,
        };
        let tokens = users.keys().cloned().collect();
        Some(kubelets::Fleet::start(store.clone(), &pki, tokens, cfg.kubelets_for_all_nodes).await?)
    } else {
        None
    };
    let mut state = server::State::new(store.clone(), users, cfg.bookmark_interval, cfg.hooks.clone());
    state.authz = cfg.authz.clone();
    state.rv_wait = cfg.rv_wait;
    state.kubernetes_minor = cfg.kubernetes_minor;
    state.runtime_config = cfg.runtime_config.clone();
    state.faults.set_streaming_lists(cfg.streaming_lists);
    state.encodings.set_json_only(cfg.json_only);
    state.faults.set_sharded_list_and_watch(cfg.sharded_list_and_watch);
    state.aggregator = Some(Arc::new(aggregation::Aggregator { front: front_proxy.clone() }));
    let state = Arc::new(state);
    *state.server_address.lock().unwrap_or_else(|e| e.into_inner()) = addr.to_string();
    let mut tasks = Vec::new();
    if let Some(f) = &fleet {
        // Nodes that exist now get their kubelets before the first request is served.
        if let Some(rt) = store.resource_for("v1", "Node") {
            f.sync(&store, &store.snapshot(&rt, None).0);
        }
        tasks.push(tokio::spawn(f.clone().watch_nodes(store.clone(), state.shutdown.clone())));
    }
    let cm = aggregation::auth_configmap(tls.as_ref().map(|t| t.ca_pem.as_str()), &front_proxy);
    tasks.push(tokio::spawn(aggregation::publish_when_needed(store.clone(), cm, state.shutdown.clone())));
    tasks.push(tokio::spawn(server::serve(state.clone(), listener, server_cfg)));
    if cfg.churn_per_sec > 0.0 {
        tasks.push(tokio::spawn(synth::churn(store.clone(), cfg.churn_per_sec, cfg.seed, state.shutdown.clone())));
    }
    tracing::info!(%addr, tls = cfg.tls, "kube-sim listening");
    Ok(SimHandle { addr, token: cfg.token, tls, front_proxy, fleet, state, event_window: cfg.event_window, tasks })
}

impl SimHandle {
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn token(&self) -> &str {
        &self.token
    }
    pub fn ca_pem(&self) -> Option<String> {
        self.tls.as_ref().map(|t| t.ca_pem.clone())
    }
    /// The CA and serving material, e.g. to issue certificates for simulated kubelets.
    pub fn tls_material(&self) -> Option<&tls::TlsMaterial> {
        self.tls.as_ref()
    }
    /// A kubeconfig YAML that kube-rs and kubectl accept.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig_yaml(&self.url(), &self.token, self.ca_pem().as_deref())
    }
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        privatefile::write(path, self.kubeconfig_yaml()).with_context(|| format!("writing {}", path.display()))
    }
    /// The simulated kubelets (to inject faults), unless started with `kubelets: false`.
    pub fn kubelets(&self) -> Option<&KubeletSim> {
        self.fleet.as_ref().map(|f| f.kubelet_sim())
    }
    /// The kubelet port of a node as written into its status, if the simulator runs its kubelet.
    pub fn kubelet_port(&self, node: &str) -> Option<u16> {
        self.fleet.as_ref().and_then(|f| f.port(node))
    }
    /// PEM of the CA extension API servers must trust for front-proxy (request-header) clients.
    pub fn front_proxy_ca_pem(&self) -> &str {
        &self.front_proxy.ca_pem
    }
    /// Publish kube-system/extension-apiserver-authentication now (it is otherwise published when the
    /// first APIService delegating to a Service appears); an existing ConfigMap is left alone.
    pub fn publish_extension_auth(&self) {
        let cm = aggregation::auth_configmap(self.ca_pem().as_deref(), &self.front_proxy);
        aggregation::publish(&self.state.store, &cm);
    }
    pub fn store(&self) -> &Store {
        &self.state.store
    }
    /// Run-time fault injection: cut watches, fail requests, add latency, expire history, stop and
    /// restart the API port (see [`faults`]).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.state.faults
    }
    /// Serve the fault-injection admin routes (plain HTTP, no authentication) on `addr` until
    /// shutdown; returns the bound address (useful with port 0).
    pub async fn serve_admin(&mut self, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        let bound = listener.local_addr()?;
        self.tasks.push(tokio::spawn(faults::serve_admin(
            self.state.faults.clone(),
            listener,
            self.state.shutdown.clone(),
        )));
        tracing::info!(addr = %bound, "kube-sim fault admin listening");
        Ok(bound)
    }
    /// Every open watch stream ends now.
    pub fn cut_watches(&self) {
        self.state.faults.cut_watches();
    }
    /// Forget the event window: watches resuming from any version handed out so far get 410.
    pub fn expire_events(&self) {
        self.state.faults.expire_events();
    }
    /// The next `times` requests whose path starts with `path_prefix` fail with HTTP `code`.
    pub fn inject_error(&self, path_prefix: &str, code: u16, times: usize) {
        self.state.faults.fail_next(times, code, None, path_prefix);
    }

    /// Every API request served so far (the last 50,000), oldest first: method, path, raw query,
    /// Kubernetes verb, response status and content type, body bytes sent (growing while a watch is
    /// open). The admin port serves the same as `GET /requests`. See [`accounting`].
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.faults.log.records()
    }

    /// Forget the requests seen so far, e.g. between the phases of a test.
    pub fn reset_requests(&self) {
        self.state.faults.log.reset();
    }

    /// Serve streaming lists (`sendInitialEvents=true`) or refuse them as a kube-apiserver v1.36
    /// on etcd 3.4 does: 200, then one ERROR event (code 500, reason InternalError), end of stream.
    /// Applies to watches opened from now on.
    pub fn set_streaming_lists(&self, served: bool) {
        self.state.faults.set_streaming_lists(served);
    }
    /// Answer JSON only from now on (`true`), or protobuf to clients that ask for it (`false`).
    pub fn set_json_only(&self, on: bool) {
        self.state.encodings.set_json_only(on);
    }

    /// Turn the `ShardedListAndWatch` feature gate on or off for requests from now on.
    pub fn set_sharded_list_and_watch(&self, on: bool) {
        self.state.faults.set_sharded_list_and_watch(on);
    }

    /// Restart as a different cluster on the same address with the same certificates, tokens and
    /// settings: the API port closes (every connection and watch drops), the store is replaced by
    /// `cluster` (its resourceVersions start at `cluster.first_rv`, typically below the ones handed
    /// out so far, as after an etcd restore), and the port listens again. The request log and
    /// faults carry over. Returns once the new cluster is served.
    pub async fn restart_as(&self, cluster: Cluster) -> anyhow::Result<()> {
        let fresh = Store::serving(
            self.event_window,
            cluster.first_rv,
            self.state.kubernetes_minor,
            &self.state.runtime_config,
        );
        populate(&fresh, &cluster.fixtures, cluster.synthetic.as_ref(), cluster.seed)?;
        for o in cluster.objects {
            fresh.create(o).map_err(|e| anyhow::anyhow!("creating a restart object: {e}"))?;
        }
        let store = &self.state.store;
        if store.get("v1", "ConfigMap", Some("kube-system"), "extension-apiserver-authentication").is_some() {
            let cm = aggregation::auth_configmap(self.ca_pem().as_deref(), &self.front_proxy);
            aggregation::publish(&fresh, &cm);
        }
        self.state.faults.stop_listening().await?;
        store.replace_contents(fresh);
        if let (Some(f), Some(rt)) = (&self.fleet, store.resource_for("v1", "Node")) {
            f.sync(store, &store.snapshot(&rt, None).0);
        }
        self.state.faults.start_listening().await?;
        Ok(())
    }
    pub async fn shutdown(self) {
        self.state.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn kubeconfig_yaml(url: &str, token: &str, ca_pem: Option<&str>) -> String {
    use base64::Engine;
    let cluster = match ca_pem {
        Some(ca) => {
            format!("    certificate-authority-data: {}\n", base64::engine::general_purpose::STANDARD.encode(ca))
        }
        None => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: {url}\n{cluster}contexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim-admin\n    namespace: default\ncurrent-context: kube-sim\nusers:\n- name: kube-sim-admin\n  user:\n    token: {token}\npreferences: {{}}\n"
    )
}
