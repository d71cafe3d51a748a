//! Wires one running instance together: options → API client → one watcher and store per resource →
//! the main and telemetry HTTP servers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::runtime::watcher;
use tokio::sync::watch as signal;

use crate::family::Ctx;
use crate::options::Options;
use crate::registry::{self, ResourceHandle};
use crate::scrape::{Headers, ResourceFilter, Scrape, ScrapeBody, Writer};
use crate::server::{self, Request, Response, Timeouts};
use crate::store::Store;
use crate::telemetry::{CountingLayer, Telemetry};
use crate::watch::WatchSpec;

/// How long each server lets open requests finish at shutdown (upstream: 3 s).
const DRAIN: Duration = Duration::from_secs(3);

/// Shared state of the main server's handlers.
struct App {
    writers: Vec<Writer>,
    gzip: bool,
    telemetry: Arc<Telemetry>,
    client: kube::Client,
}

/// Runs kube-state-metrics until `shutdown` completes. Reads the `--config` file first, then validates
/// everything before binding ports, so a bad option fails fast.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut opts = opts;
    opts.apply_config_file()?;
    opts.check_supported()?;
    let names = opts.resource_names()?;
    let available = registry::available();
    let (handles, missing) = registry::resolve(&names, &available);
    if !missing.is_empty() {
        tracing::warn!(resources = %missing.join(","), "resources not implemented in this build yet; skipped");
    }

    let telemetry = Arc::new(Telemetry::new(opts.shard, opts.total_shards));
    let labels: HashMap<String, String> = handles.iter().map(|h| (h.api_plural(), h.type_label())).collect();
    let config = kube_config(&opts).await?;
    let client = kube::client::ClientBuilder::try_from(config)
        .context("building the API client")?
        .with_layer(&CountingLayer::new(telemetry.clone(), labels))
        .build();

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
    let mut writers = Vec::new();
    let mut watches = tokio::task::JoinSet::new();
    for h in &handles {
        let (writer, spec) = plan(h.as_ref(), client.clone(), wcfg.clone());
        writers.push(writer);
        watches.spawn(h.watch(spec));
    }
    tracing::info!(
        resources = %handles.iter().map(|h| h.name()).collect::<Vec<_>>().join(","),
        main = %display_addr(&main_listener),
        telemetry = %display_addr(&tel_listener),
        "kube-state-metrics started"
    );
    {
        let c = client.clone();
        watches.spawn(async move {
            match c.apiserver_version().await {
                Ok(v) => tracing::info!(version = %v.git_version, "connected to the API server"),
                Err(e) => tracing::warn!(error = %e, "API server /version failed"),
            }
        });
    }

    let app = Arc::new(App { writers, gzip: opts.enable_gzip_encoding, telemetry: telemetry.clone(), client });
    let (stop_tx, stop_rx) = signal::channel(false);
    let main_timeouts = Timeouts::new(
        opts.server_read_timeout,
        opts.server_read_header_timeout,
        opts.server_write_timeout,
        opts.server_idle_timeout,
    );
    let main_app = app.clone();
    let main = tokio::spawn(server::serve(
        main_listener,
        move |req| main_handler(main_app.clone(), req),
        main_timeouts,
        stop_rx.clone(),
        DRAIN,
    ));
    let tel_timeouts = Timeouts { read_header: Some(Duration::from_secs(5)), ..Timeouts::default() };
    let tel = tokio::spawn(server::serve(
        tel_listener,
        move |req| telemetry_handler(telemetry.clone(), req),
        tel_timeouts,
        stop_rx,
        DRAIN,
    ));

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    watches.abort_all();
    let _ = main.await;
    let _ = tel.await;
    Ok(())
}

fn display_addr(l: &tokio::net::TcpListener) -> String {
    l.local_addr().map(|a| a.to_string()).unwrap_or_default()
}

/// The store, headers and watch settings of one resource.
fn plan(h: &dyn ResourceHandle, client: kube::Client, config: watcher::Config) -> (Writer, WatchSpec) {
    let enabled = registry::enabled_families(h);
    let store = Arc::new(Store::new());
    let writer =
        Writer { name: h.name().to_owned(), headers: Arc::new(Headers::for_handle(h, &enabled)), store: store.clone() };
    let spec = WatchSpec { client, config, enabled: enabled.into(), ctx: Arc::new(Ctx::default()), store };
    (writer, spec)
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
        let kc = Kubeconfig::read_from(&opts.kubeconfig)
            .with_context(|| format!("reading kubeconfig {}", opts.kubeconfig))?;
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

async fn main_handler(app: Arc<App>, req: Request) -> Response {
    match req.uri().path() {
        "/metrics" => metrics(&app, &req),
        "/healthz" => server::text(http::StatusCode::OK, "OK"),
        "/livez" => livez(&app.client).await,
        "/readyz" => readyz(&app.writers),
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
    let scrape = Scrape::new(&app.writers, &filter, format.is_open_metrics());
    let telemetry = app.telemetry.clone();
    let on_done: Box<dyn FnOnce() + Send + Sync> = Box::new(move || telemetry.observe_scrape(started.elapsed()));
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

/// Ready once every enabled resource has completed its first list.
fn readyz(writers: &[Writer]) -> Response {
    let waiting: Vec<&str> = writers.iter().filter(|w| !w.store.synced()).map(|w| w.name.as_str()).collect();
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
