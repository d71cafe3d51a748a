//! An in-memory Kubernetes API server: list/watch/CRUD/patch over HTTP(S) for kube-rs, kubectl and
//! the kubestate servers, with fixtures, a synthetic cluster generator, churn and fault injection.

pub mod aggregation;
pub mod authz;
mod client;
pub mod error;
pub mod faults;
pub mod fixtures;
pub mod kubelets;
pub mod patch;
pub mod resources;
pub mod review;
pub mod selector;
pub mod server;
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

pub use authz::{AuthzRule, AuthzRules};
pub use error::SimError;
pub use faults::{ErrorFault, FaultError, Faults};
pub use kubelet_sim::{Fault as KubeletFault, KubeletSim};
pub use server::{Body, HookRequest, RouteHook, User};
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
    /// Simulated kubelets for every node (see [`kubelets`]).
    pub kubelets: bool,
    /// Authorization rules for API requests and SubjectAccessReviews; `None` allows every
    /// authenticated user.
    pub authz: Option<AuthzRules>,
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
            authz: None,
        }
    }
}

/// A running simulator.
pub struct SimHandle {
    addr: SocketAddr,
    token: String,
    tls: Option<tls::TlsMaterial>,
    front_proxy: tls::FrontProxy,
    fleet: Option<Arc<kubelets::Fleet>>,
    state: Arc<server::State>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Start a simulator: load fixtures and the synthetic cluster, bind, and serve in the background.
pub async fn start(cfg: SimConfig) -> anyhow::Result<SimHandle> {
    let store = Arc::new(Store::new(cfg.event_window));
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
    fixtures::ensure_namespace(&store, "default")?;
    fixtures::ensure_namespace(&store, "kube-system")?;
    if !cfg.fixtures.is_empty() {
        let n = fixtures::load(&store, &cfg.fixtures)?;
        tracing::info!(objects = n, "fixtures loaded");
    }
    if let Some(syn) = &cfg.synthetic {
        let n = synth::generate(&store, syn, cfg.seed)?;
        tracing::info!(objects = n, "synthetic cluster generated");
    }
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
        Some(kubelets::Fleet::start(store.clone(), &pki, tokens).await?)
    } else {
        None
    };
    let mut state = server::State::new(store.clone(), users, cfg.bookmark_interval, cfg.hooks.clone());
    state.authz = cfg.authz.clone();
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
    Ok(SimHandle { addr, token: cfg.token, tls, front_proxy, fleet, state, tasks })
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
