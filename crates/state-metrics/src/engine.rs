//! Wires one running instance together: options → API client → one watcher and store per resource →
//! the main and telemetry HTTP servers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::runtime::watcher;
use tokio::sync::watch as signal;

use crate::authfilter::AuthFilter;
use crate::custom::runtime::CustomRuntime;
use crate::family::{Ctx, KeyAllow};
use crate::filter::{FamilyFilter, NamespaceScope};
use crate::options::Options;
use crate::registry::{self, ResourceHandle};
use crate::scrape::{Headers, ResourceFilter, Scrape, ScrapeBody, Writer};
use crate::server::{self, Request, Response, Timeouts};
use crate::store::Store;
use crate::telemetry::{CountingLayer, Telemetry};
use crate::watch::{Shard, WatchSpec};
use crate::webconfig::WebConfig;

/// How long each server lets open requests finish at shutdown (upstream: 3 s).
const DRAIN: Duration = Duration::from_secs(3);

/// Shared state of the main server's handlers.
struct App {
    writers: Vec<Writer>,
    gzip: bool,
    telemetry: Arc<Telemetry>,
    client: kube::Client,
    custom: Option<Arc<CustomRuntime>>,
}

/// Runs kube-state-metrics until `shutdown` completes. Reads the `--config` file first, then validates
/// everything before binding ports, so a bad option fails fast.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut opts = opts;
    opts.apply_config_file()?;
    opts.check_supported()?;
    let web = if opts.tls_config.is_empty() {
        None
    } else {
        Some(Arc::new(WebConfig::load(std::path::Path::new(&opts.tls_config))?))
    };
    let names = opts.resource_names()?;
    let names = if opts.custom_resource_state_only { Vec::new() } else { names };
    let custom = crate::custom::runtime::prepare(&opts)?;
    opts.validate(&names)?;
    let family_filter = opts.family_filter()?;
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (labels_allow, annotations_allow) = opts.key_allowlists(&name_refs)?;
    let available = registry::available();
    let handles =
        registry::resolve(&names, &available).map_err(|n| anyhow::anyhow!("resource {n} has no implementation"))?;

    let telemetry = Arc::new(Telemetry::new(opts.shard, opts.total_shards));
    let labels: HashMap<String, String> = handles.iter().map(|h| (h.api_plural(), h.type_label())).collect();
    let config = kube_config(&opts).await?;
    let client = kube::client::ClientBuilder::try_from(config)
        .context("building the API client")?
        .with_layer(&CountingLayer::new(telemetry.clone(), labels))
        .build();

    // Auto-sharding needs the StatefulSet before anything is listed, so that no other shard's objects
    // are ever served.
    let auto = if opts.pod.is_empty() {
        None
    } else {
        let (sts, shard) = discover_shard(&client, &opts.pod, &opts.pod_namespace).await?;
        tracing::info!(statefulset = %sts, shard = shard.index, total = shard.total, "auto-sharding");
        Some((sts, shard))
    };
    let shard = match &auto {
        Some((_, s)) => *s,
        None => Shard { index: u32::try_from(opts.shard)?, total: u32::try_from(opts.total_shards)? },
    };
    telemetry.set_sharding(i32::try_from(shard.index)?, i32::try_from(shard.total)?);

    let main_listener = server::bind(&opts.host, opts.port)
        .await
        .with_context(|| format!("listening on {}:{}", opts.host, opts.port))?;
    let tel_listener = server::bind(&opts.telemetry_host, opts.telemetry_port)
        .await
        .with_context(|| format!("listening on {}:{}", opts.telemetry_host, opts.telemetry_port))?;

    let mut wcfg = watcher::Config::default();
    if opts.use_apiserver_cache {
        wcfg = wcfg.any_semantic();
    }
    let scope = crate::filter::namespace_scope(&opts.namespaces);
    let fields = crate::filter::field_selector(&opts.namespaces_denylist, &opts.node, opts.track_unscheduled_pods);
    let mut writers = Vec::new();
    let mut specs = Vec::new();
    for h in &handles {
        let ctx = Ctx {
            labels: labels_allow.get(h.name()).cloned().unwrap_or(KeyAllow::Nothing),
            annotations: annotations_allow.get(h.name()).cloned().unwrap_or(KeyAllow::Nothing),
        };
        let p = plan(h.as_ref(), &family_filter, ctx, &scope, &fields, client.clone(), wcfg.clone());
        telemetry.track_store(h.name(), p.writer.store.clone());
        writers.push(p.writer);
        specs.extend(p.specs.into_iter().map(|s| (h.clone(), s)));
    }
    let specs = Arc::new(specs);
    let mut watches = spawn_watches(&specs, shard);
    let mut aux = tokio::task::JoinSet::new();
    let (shard_tx, mut shard_rx) = signal::channel(shard);
    if let Some((sts, _)) = &auto {
        aux.spawn(follow_statefulset(
            client.clone(),
            opts.pod.clone(),
            opts.pod_namespace.clone(),
            sts.clone(),
            shard_tx,
        ));
    } else {
        drop(shard_tx);
    }
    tracing::info!(
        resources = %handles.iter().map(|h| h.name()).collect::<Vec<_>>().join(","),
        main = %display_addr(&main_listener),
        telemetry = %display_addr(&tel_listener),
        "kube-state-metrics started"
    );
    {
        let c = client.clone();
        aux.spawn(async move {
            match c.apiserver_version().await {
                Ok(v) => tracing::info!(version = %v.git_version, "connected to the API server"),
                Err(e) => tracing::warn!(error = %e, "API server /version failed"),
            }
        });
    }

    let custom = custom.map(|p| {
        let (rt, fut) = crate::custom::runtime::start(p, client.clone(), wcfg.clone(), shard_rx.clone());
        let tel = rt.telemetry.clone();
        telemetry.add_extra(Arc::new(move |out: &mut Vec<u8>| tel.render(out)));
        let served = rt.clone();
        telemetry
            .track_dynamic_stores(Arc::new(move || served.writers().into_iter().map(|w| (w.name, w.store)).collect()));
        aux.spawn(fut);
        rt
    });
    // Upstream builds the filter from the same client; API errors at request time answer 503.
    let filter = opts.auth_filter.then(|| Arc::new(AuthFilter::new(client.clone())));
    let app = Arc::new(App { writers, gzip: opts.enable_gzip_encoding, telemetry: telemetry.clone(), client, custom });
    let tls = web.as_ref().and_then(|w| w.tls.clone());
    let (stop_tx, stop_rx) = signal::channel(false);
    let main_timeouts = Timeouts::new(
        opts.server_read_timeout,
        opts.server_read_header_timeout,
        opts.server_write_timeout,
        opts.server_idle_timeout,
    );
    let main_app = app.clone();
    let (main_web, main_filter) = (web.clone(), filter.clone());
    let main = tokio::spawn(server::serve_with(
        main_listener,
        move |req| {
            let app = main_app.clone();
            secured(main_web.clone(), main_filter.clone(), req, move |req| main_handler(app, req))
        },
        main_timeouts,
        stop_rx.clone(),
        DRAIN,
        tls.clone(),
    ));
    let tel_timeouts = Timeouts { read_header: Some(Duration::from_secs(5)), ..Timeouts::default() };
    let tel = tokio::spawn(server::serve_with(
        tel_listener,
        move |req| {
            let telemetry = telemetry.clone();
            secured(web.clone(), filter.clone(), req, move |req| telemetry_handler(telemetry, req))
        },
        tel_timeouts,
        stop_rx,
        DRAIN,
        tls,
    ));

    let mut shutdown = std::pin::pin!(shutdown);
    let mut resharding = auto.is_some();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            changed = shard_rx.changed(), if resharding => {
                if changed.is_err() {
                    resharding = false;
                    continue;
                }
                let new = *shard_rx.borrow_and_update();
                tracing::info!(shard = new.index, total = new.total, "shard assignment changed; relisting everything");
                // Every old watch must be gone before the stores are emptied, or one could still insert
                // an object the new assignment gives to another shard.
                watches.shutdown().await;
                for w in &app.writers {
                    w.store.reset();
                }
                app.telemetry.set_sharding(i32::try_from(new.index).unwrap_or(i32::MAX), i32::try_from(new.total).unwrap_or(i32::MAX));
                watches = spawn_watches(&specs, new);
            }
        }
    }
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    watches.abort_all();
    aux.abort_all();
    let _ = main.await;
    let _ = tel.await;
    Ok(())
}

fn display_addr(l: &tokio::net::TcpListener) -> String {
    l.local_addr().map(|a| a.to_string()).unwrap_or_default()
}

/// One resource's writer and the list/watches that feed its store.
struct Plan {
    writer: Writer,
    specs: Vec<WatchSpec>,
}

/// The store, headers and watch settings of one resource: one list/watch per namespace for namespaced
/// resources under `--namespaces`, else one cluster-wide; the field selector only on namespaced ones.
fn plan(
    h: &dyn ResourceHandle,
    filter: &FamilyFilter,
    ctx: Ctx,
    scope: &NamespaceScope,
    fields: &str,
    client: kube::Client,
    config: watcher::Config,
) -> Plan {
    let enabled = registry::enabled_families(h, filter);
    let (namespaces, config) = if h.namespaced() {
        let config = if fields.is_empty() { config } else { config.fields(fields) };
        let ns = match scope {
            NamespaceScope::All => vec![None],
            NamespaceScope::Only(list) => list.iter().cloned().map(Some).collect(),
        };
        (ns, config)
    } else {
        (vec![None], config)
    };
    let headers = Headers::for_handle(h, &enabled);
    let store = Arc::new(Store::named(namespaces.len(), headers.names()));
    let writer = Writer { name: h.name().to_owned(), headers: Arc::new(headers), store: store.clone() };
    let enabled: Arc<[usize]> = enabled.into();
    let ctx = Arc::new(ctx);
    let specs = namespaces
        .into_iter()
        .enumerate()
        .map(|(part, namespace)| WatchSpec {
            client: client.clone(),
            config: config.clone(),
            namespace,
            enabled: enabled.clone(),
            ctx: ctx.clone(),
            store: store.clone(),
            part,
            shard: Shard::default(),
        })
        .collect();
    Plan { writer, specs }
}

fn spawn_watches(specs: &[(Arc<dyn ResourceHandle>, WatchSpec)], shard: Shard) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    for (h, spec) in specs {
        set.spawn(h.watch(WatchSpec { shard, ..spec.clone() }));
    }
    set
}

/// Auto-sharding: this pod's controlling StatefulSet (apps/v1, controller=true) gives the shard (pod
/// ordinal) and the shard count (replicas). Returns the StatefulSet's name too.
async fn discover_shard(client: &kube::Client, pod: &str, namespace: &str) -> anyhow::Result<(String, Shard)> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::Pod;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), namespace);
    let p = pods.get(pod).await.with_context(|| format!("auto-sharding: getting own pod {namespace}/{pod}"))?;
    let owner = p
        .metadata
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .find(|o| o.api_version == "apps/v1" && o.kind == "StatefulSet" && o.controller == Some(true))
        .with_context(|| format!("auto-sharding: pod {namespace}/{pod} is not controlled by a StatefulSet"))?;
    let sets: kube::Api<StatefulSet> = kube::Api::namespaced(client.clone(), namespace);
    let sts = sets
        .get(&owner.name)
        .await
        .with_context(|| format!("auto-sharding: getting StatefulSet {namespace}/{}", owner.name))?;
    let replicas = sts.spec.as_ref().and_then(|s| s.replicas);
    let (index, total) = crate::shard::auto_shard(pod, &owner.name, replicas).with_context(|| {
        format!(
            "auto-sharding: pod name {pod} is not <statefulset>-<ordinal> of {} (replicas {replicas:?})",
            owner.name
        )
    })?;
    Ok((owner.name, Shard { index, total }))
}

/// Watches the StatefulSet and publishes every new shard assignment (replica count changes).
async fn follow_statefulset(
    client: kube::Client,
    pod: String,
    namespace: String,
    name: String,
    tx: signal::Sender<Shard>,
) {
    use futures::StreamExt;
    use k8s_openapi::api::apps::v1::StatefulSet;
    let api: kube::Api<StatefulSet> = kube::Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher::watcher(api, config));
    let mut failing = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(watcher::Event::Apply(sts) | watcher::Event::InitApply(sts)) => {
                failing = false;
                let replicas = sts.spec.as_ref().and_then(|s| s.replicas);
                match crate::shard::auto_shard(&pod, &name, replicas) {
                    Some((index, total)) => {
                        tx.send_if_modified(|cur| {
                            let new = Shard { index, total };
                            let changed = *cur != new;
                            *cur = new;
                            changed
                        });
                    }
                    None => tracing::error!(statefulset = %name, ?replicas, "auto-sharding: cannot derive a shard"),
                }
            }
            Ok(_) => {}
            Err(e) => {
                if !failing {
                    tracing::warn!(statefulset = %name, error = %e, "auto-sharding: watching the StatefulSet failed; retrying");
                }
                failing = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// `--kubeconfig` if given; else the in-cluster config; else `$KUBECONFIG` / `~/.kube/config`; else, with
/// `--apiserver`, that URL alone. `--apiserver` always overrides the server URL.
async fn kube_config(opts: &Options) -> anyhow::Result<kube::Config> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let apiserver: Option<http::Uri> = if opts.apiserver.is_empty() {
        None
    } else {
        Some(opts.apiserver.parse().with_context(|| format!("--apiserver {:?} is not a URL", opts.apiserver))?)
    };
    let mut config = if !opts.kubeconfig.is_empty() {
        // kube's read error already quotes the path and repeats its cause; say each once.
        let kc = Kubeconfig::read_from(&opts.kubeconfig).map_err(|e| {
            anyhow::anyhow!("reading kubeconfig {}: {}", opts.kubeconfig, anyhow::Error::from(e).root_cause())
        })?;
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading kubeconfig {}", opts.kubeconfig))?
    } else {
        match kube::Config::incluster() {
            Ok(c) => c,
            Err(in_cluster) => match kube::Config::from_kubeconfig(&KubeConfigOptions::default()).await {
                Ok(c) => c,
                Err(_) if apiserver.is_some() => kube::Config::new(apiserver.clone().unwrap_or_default()),
                Err(kc) => anyhow::bail!(
                    "no API server configuration: not in a cluster ({in_cluster}) and no usable kubeconfig ({kc}); \
                     pass --kubeconfig or --apiserver"
                ),
            },
        }
    };
    if let Some(url) = apiserver {
        config.cluster_url = url;
    }
    Ok(config)
}

/// The web config's basic authentication (every path) and the auth filter (`/metrics` only) in front
/// of `inner`; the web config's extra headers go on every answer, refusals included.
async fn secured<F, Fut>(
    web: Option<Arc<WebConfig>>,
    filter: Option<Arc<AuthFilter>>,
    req: Request,
    inner: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let mut refused = match web.as_deref() {
        Some(w) => w.refusal(&req).await,
        None => None,
    };
    if refused.is_none()
        && let Some(f) = &filter
        && req.uri().path() == "/metrics"
    {
        refused = f.refusal(&req).await;
    }
    let mut resp = match refused {
        Some(r) => r,
        None => inner(req).await,
    };
    if let Some(w) = &web {
        w.decorate(&mut resp);
    }
    resp
}

async fn main_handler(app: Arc<App>, req: Request) -> Response {
    match req.uri().path() {
        "/metrics" => metrics(&app, &req),
        "/healthz" => server::text(http::StatusCode::OK, "OK"),
        "/livez" => livez(&app.client).await,
        "/readyz" => readyz(&CustomRuntime::for_readiness(&app.writers, app.custom.as_deref())),
        _ => index(MAIN_INDEX),
    }
}

async fn telemetry_handler(telemetry: Arc<Telemetry>, req: Request) -> Response {
    match req.uri().path() {
        "/metrics" => {
            let mut r = http::Response::new(server::full(telemetry.render()));
            r.headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(exposition::TEXT_CONTENT_TYPE));
            r
        }
        // As upstream: ready as soon as the telemetry registry can be gathered.
        "/readyz" => server::text(http::StatusCode::OK, "OK"),
        _ => index(TELEMETRY_INDEX),
    }
}

fn header_str(req: &Request, name: http::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn metrics(app: &App, req: &Request) -> Response {
    let started = Instant::now();
    let format = exposition::negotiate(header_str(req, http::header::ACCEPT));
    let gzip = app.gzip && exposition::accepts_gzip(header_str(req, http::header::ACCEPT_ENCODING));
    let filter = ResourceFilter::from_query(req.uri().query());
    let scrape =
        Scrape::new(&CustomRuntime::merged(&app.writers, app.custom.as_deref()), &filter, format.is_open_metrics());
    let telemetry = app.telemetry.clone();
    static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let on_done: Box<dyn FnOnce() + Send + Sync> = Box::new(move || {
        telemetry.observe_scrape(started.elapsed());
        // The last of a burst of scrapes leaves their chunks and snapshots free.
        if IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) == 1 {
            crate::trim::after_burst();
        }
    });
    let body = ScrapeBody::new(scrape, gzip, Some(on_done));
    let mut r = http::Response::new(http_body_util::BodyExt::boxed(body));
    let ct = http::HeaderValue::from_str(format.content_type())
        .unwrap_or_else(|_| http::HeaderValue::from_static(exposition::TEXT_CONTENT_TYPE));
    r.headers_mut().insert(http::header::CONTENT_TYPE, ct);
    if gzip {
        r.headers_mut().insert(http::header::CONTENT_ENCODING, http::HeaderValue::from_static("gzip"));
    }
    r
}

async fn livez(client: &kube::Client) -> Response {
    let req = match http::Request::get("/livez").body(Vec::new()) {
        Ok(r) => r,
        Err(_) => return server::text(http::StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    match client.request_text(req).await {
        Ok(_) => server::text(http::StatusCode::OK, "OK"),
        Err(e) => {
            tracing::debug!(error = %e, "API server /livez failed");
            server::text(http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
    }
}

/// Ready once every list/watch of every enabled resource has completed its list; otherwise the body names
/// the resources still pending, with the reason when one is failing (e.g. `secrets (forbidden)`).
fn readyz(writers: &[Writer]) -> Response {
    let waiting: Vec<String> = writers
        .iter()
        .filter(|w| !w.store.synced())
        .map(|w| {
            let errors = w.store.errors();
            if errors.is_empty() { w.name.clone() } else { format!("{} ({})", w.name, errors.join("; ")) }
        })
        .collect();
    if waiting.is_empty() {
        server::text(http::StatusCode::OK, "OK")
    } else {
        server::text(
            http::StatusCode::SERVICE_UNAVAILABLE,
            format!("Service Unavailable: initial list pending for {}\n", waiting.join(",")),
        )
    }
}

const MAIN_INDEX: &str = r#"<html>
<head><title>kube-state-metrics</title></head>
<body>
<h1>kube-state-metrics</h1>
<p>Metrics for Kubernetes' state (kubestate)</p>
<ul>
<li><a href="metrics">metrics</a></li>
<li><a href="healthz">healthz</a></li>
<li><a href="livez">livez</a></li>
<li><a href="readyz">readyz</a></li>
</ul>
</body>
</html>
"#;

const TELEMETRY_INDEX: &str = r#"<html>
<head><title>kube-state-metrics</title></head>
<body>
<h1>kube-state-metrics</h1>
<p>Self-metrics for kube-state-metrics (kubestate)</p>
<ul>
<li><a href="metrics">metrics</a></li>
<li><a href="readyz">readyz</a></li>
</ul>
</body>
</html>
"#;

fn index(page: &'static str) -> Response {
    let mut r = http::Response::new(server::full(page));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html; charset=utf-8"));
    r
}
