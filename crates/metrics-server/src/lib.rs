//! metrics-server, rebuilt in Rust: scrape each kubelet's `/metrics/resource`, keep two points per series,
//! serve `metrics.k8s.io/v1beta1` over TLS with delegated authentication and authorization.

pub mod api;
pub mod auth;
pub mod cluster;
pub mod decode;
pub mod format;
pub mod http1;
pub mod negotiate;
pub mod openapi;
pub mod options;
pub mod proto;
pub mod scrape;
pub mod selector;
pub mod selfmetrics;
pub mod server;
pub mod storage;
pub mod tls;
pub mod wire;
pub mod yaml;

use std::ffi::OsString;
use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::ConfigMap;
use rustls::pki_types::CertificateDer;
use secrecy::ExposeSecret as _;

pub use options::Options;

use crate::auth::{Auth, RequestHeader};
use crate::cluster::Cluster;
use crate::scrape::{KubeletClient, TokenSource};
use crate::selector::LabelSelector;
use crate::selfmetrics::SelfMetrics;
use crate::server::State;
use crate::storage::{Interner, Storage};
use crate::tls::KubeletVerify;

/// Entry point of `kubestate metrics-server`; `args[0]` is the program name.
pub fn cli_main(args: Vec<OsString>) -> ExitCode {
    let opts = match Options::parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    if opts.version {
        println!("metrics-server v{} (kubestate)", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let level = logging::level_for_verbosity(opts.verbosity);
    // kube's client logs every failed request at ERROR without saying which, and its watcher warns on
    // every retry; the node and pod watches report failures themselves, once per change.
    logging::init(
        opts.logging_format,
        &format!("warn,metrics_server={level},kube_client::client::builder=off,kube_runtime::watcher=error"),
    );
    logging::warn_ignored_flags(opts.ignored_flags.iter().map(|f| (f.as_str(), options::IGNORED_REASON)));
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(opts, logging::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

async fn kube_config(path: Option<&Path>) -> anyhow::Result<kube::Config> {
    match path {
        Some(p) => {
            // kube's read error already quotes the path and repeats its cause; say each once.
            let kc = kube::config::Kubeconfig::read_from(p)
                .map_err(|e| anyhow::anyhow!("reading {}: {}", p.display(), anyhow::Error::from(e).root_cause()))?;
            Ok(kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await?)
        }
        None => Ok(kube::Config::infer().await?),
    }
}

async fn kube_client(path: Option<&Path>, fallback: &kube::Client) -> anyhow::Result<kube::Client> {
    match path {
        Some(p) => Ok(kube::Client::try_from(kube_config(Some(p)).await?)?),
        None => Ok(fallback.clone()),
    }
}

fn verifier(certs: &[CertificateDer<'static>]) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let roots = Arc::new(tls::root_store(certs));
    Ok(rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots,
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .allow_unauthenticated()
    .build()?)
}

/// Authentication settings from flags, filling the gaps from kube-system/extension-apiserver-authentication.
async fn authn_settings(
    opts: &Options,
    client: &kube::Client,
) -> anyhow::Result<(Option<RequestHeader>, Vec<CertificateDer<'static>>, Vec<CertificateDer<'static>>)> {
    let mut cm_data = std::collections::BTreeMap::new();
    if !opts.authentication_skip_lookup {
        let api: kube::Api<ConfigMap> = kube::Api::namespaced(client.clone(), "kube-system");
        match api.get("extension-apiserver-authentication").await {
            Ok(cm) => cm_data = cm.data.unwrap_or_default(),
            Err(e) if opts.authentication_tolerate_lookup_failure => {
                tracing::warn!(error = %e, "Unable to get configmap/extension-apiserver-authentication in kube-system; continuing");
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "unable to load configmap based request-header-client-ca-file: {e}; use --authentication-skip-lookup or --authentication-tolerate-lookup-failure"
                ));
            }
        }
    }
    let json_list = |key: &str| -> Vec<String> {
        cm_data.get(key).and_then(|v| serde_json::from_str::<Vec<String>>(v).ok()).unwrap_or_default()
    };
    let pick = |flag: &Vec<String>, key: &str, default: &[&str]| -> Vec<String> {
        if !flag.is_empty() {
            return flag.clone();
        }
        let from_cm = json_list(key);
        if !from_cm.is_empty() {
            return from_cm;
        }
        default.iter().map(|s| s.to_string()).collect()
    };
    let rh_ca = match &opts.requestheader_client_ca_file {
        Some(p) => tls::read_certs(p)?,
        None => cm_data.get("requestheader-client-ca-file").map(|p| tls::certs_from_pem(p)).unwrap_or_default(),
    };
    let client_ca = match &opts.client_ca_file {
        Some(p) => tls::read_certs(p)?,
        None => cm_data.get("client-ca-file").map(|p| tls::certs_from_pem(p)).unwrap_or_default(),
    };
    let rh = if rh_ca.is_empty() {
        None
    } else {
        Some(RequestHeader {
            verifier: verifier(&rh_ca)?,
            allowed_names: pick(&opts.requestheader_allowed_names, "requestheader-allowed-names", &[]),
            username_headers: lower(pick(
                &opts.requestheader_username_headers,
                "requestheader-username-headers",
                &["x-remote-user"],
            )),
            group_headers: lower(pick(
                &opts.requestheader_group_headers,
                "requestheader-group-headers",
                &["x-remote-group"],
            )),
            extra_prefixes: lower(pick(
                &opts.requestheader_extra_headers_prefix,
                "requestheader-extra-headers-prefix",
                &["x-remote-extra-"],
            )),
            uid_headers: lower(pick(&opts.requestheader_uid_headers, "requestheader-uid-headers", &[])),
        })
    };
    Ok((rh, rh_ca, client_ca))
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.to_ascii_lowercase()).collect()
}

/// Run the server until `shutdown` resolves.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    opts.validate()?;
    let node_selector = LabelSelector::parse(&opts.node_selector).context("--node-selector")?;
    let config = kube_config(opts.kubeconfig.as_deref()).await.context("loading kubeconfig")?;
    let client = kube::Client::try_from(config.clone())?;
    let authn_client = kube_client(opts.authentication_kubeconfig.as_deref(), &client).await?;
    let authz_client = kube_client(opts.authorization_kubeconfig.as_deref(), &client).await?;

    // Kubelet client.
    let (kubelet_tls, token) = if opts.deprecated_kubelet_completely_insecure {
        (None, TokenSource::None)
    } else {
        let verify = if opts.kubelet_insecure_tls {
            KubeletVerify::Insecure
        } else if let Some(ca) = &opts.kubelet_certificate_authority {
            KubeletVerify::Roots(tls::read_certs(ca)?)
        } else {
            KubeletVerify::Roots(
                config.root_cert.clone().unwrap_or_default().into_iter().map(CertificateDer::from).collect(),
            )
        };
        let client_cert = match (&opts.kubelet_client_certificate, &opts.kubelet_client_key) {
            (Some(c), Some(k)) => Some((tls::read_certs(c)?, tls::read_key(k)?)),
            _ => None,
        };
        let token = if let Some(t) = &config.auth_info.token {
            TokenSource::Static(t.expose_secret().to_string())
        } else if let Some(f) = &config.auth_info.token_file {
            TokenSource::File(f.into())
        } else {
            TokenSource::None
        };
        (Some(tls::kubelet_client_config(verify, client_cert)?), token)
    };
    let kubelet = Arc::new(KubeletClient {
        tls: kubelet_tls,
        token,
        port: opts.kubelet_port,
        use_node_status_port: opts.kubelet_use_node_status_port,
        preferred_address_types: opts.kubelet_preferred_address_types.clone(),
        timeout: opts.kubelet_request_timeout,
        pool: Default::default(),
        names: Default::default(),
    });

    // Serving TLS and authentication.
    let (rh, rh_ca, client_ca) = authn_settings(&opts, &authn_client).await?;
    let (certs, key) =
        tls::serving_cert(opts.tls_cert_file.as_deref(), opts.tls_private_key_file.as_deref(), &opts.cert_dir)?;
    let all_cas: Vec<_> = rh_ca.iter().chain(&client_ca).cloned().collect();
    let builder = tls::server_builder(opts.tls_min_version, &opts.tls_cipher_suites)?;
    let reloading = tls::ReloadingCert::new(certs, key)?;
    let resolver = tls::SniResolver::new(reloading.clone(), &opts.tls_sni_cert_key)?;
    let sni = resolver.clone();
    // Like Go's RequestClientCert: ask for a certificate when some CA could vouch for one, verify it per
    // request after the handshake.
    let mut server_cfg = if all_cas.is_empty() {
        builder.with_no_client_auth().with_cert_resolver(resolver)
    } else {
        builder.with_client_cert_verifier(tls::RequestClientCert::new(&all_cas)).with_cert_resolver(resolver)
    };

    server_cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let client_ca_verifier = if client_ca.is_empty() { None } else { Some(verifier(&client_ca)?) };
    let auth = Auth::new(
        rh,
        client_ca_verifier,
        Some(authn_client),
        Some(authz_client),
        opts.authorization_always_allow_paths.clone(),
        opts.anonymous_auth,
        opts.authentication_token_webhook_cache_ttl,
        opts.authorization_webhook_cache_authorized_ttl,
        opts.authorization_webhook_cache_unauthorized_ttl,
    );

    let cluster = Arc::new(Cluster::default());
    let state = Arc::new(State {
        cluster: cluster.clone(),
        storage: RwLock::new(Storage::new(opts.metric_resolution)),
        interner: Mutex::new(Interner::default()),
        metrics: Arc::new(SelfMetrics::new(opts.metric_resolution.as_secs_f64())),
        auth,
        kubelet,
        node_selector,
        resolution: opts.metric_resolution,
        last_tick_start: Mutex::new(None),
        was_ready: AtomicBool::new(false),
    });

    let mut shutdown = std::pin::pin!(shutdown);
    let nodes = tokio::spawn(cluster::watch_nodes(client.clone(), cluster.clone()));
    let pods = tokio::spawn(cluster::watch_pods(client.clone(), cluster.clone()));
    // Like upstream: scrape and serve only once both caches have synced.
    loop {
        if cluster.synced() {
            break;
        }
        tokio::select! {
            _ = &mut shutdown => {
                nodes.abort();
                pods.abort();
                return Ok(());
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    tracing::info!("caches synced");
    let mut reload = sni.watches(Duration::from_secs(10));
    if let (Some(c), Some(k)) = (&opts.tls_cert_file, &opts.tls_private_key_file) {
        reload.push(tokio::spawn(reloading.watch(c.clone(), k.clone(), Duration::from_secs(10))));
    }
    let scraper = tokio::spawn(server::scrape_loop(state.clone()));
    let listener = tokio::net::TcpListener::bind((opts.bind_address, opts.secure_port))
        .await
        .with_context(|| format!("binding {}:{}", opts.bind_address, opts.secure_port))?;
    tracing::info!(addr = %listener.local_addr()?, "serving securely");
    server::serve(listener, Arc::new(server_cfg), state, server::Limits::default(), shutdown).await;
    for r in reload {
        r.abort();
    }
    scraper.abort();
    nodes.abort();
    pods.abort();
    Ok(())
}
