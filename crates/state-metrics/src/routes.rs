//! The HTTP side of kube-state-metrics: the main port's handlers (`/metrics`, health, readiness, the index
//! page) and the telemetry port's, behind the web config's authentication and the auth filter.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::authfilter::AuthFilter;
use crate::custom::runtime::CustomRuntime;
use crate::scrape::{ResourceFilter, Scrape, ScrapeBody, Served};
use crate::server::{self, Request, Response};
use crate::telemetry::Telemetry;
use crate::webconfig::WebConfig;

/// Shared state of the main server's handlers.
pub struct App {
    pub served: Vec<Served>,
    pub gzip: bool,
    pub telemetry: Arc<Telemetry>,
    pub client: kube::Client,
    pub custom: Option<Arc<CustomRuntime>>,
    pub overview: crate::overview::OverviewState,
}

/// The web config's basic authentication (every path) and the auth filter (`/metrics` only) in front
/// of `inner`; the web config's extra headers go on every answer, refusals included.
pub async fn secured<F, Fut>(
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
        && matches!(req.uri().path(), "/metrics" | "/" | "/overview.json")
    {
        // The overview shows what /metrics holds: it is authorized as /metrics is.
        refused = f.refusal_for(&req, "/metrics").await;
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

pub async fn main_handler(app: Arc<App>, req: Request) -> Response {
    match req.uri().path() {
        "/metrics" => metrics(&app, &req),
        "/healthz" => server::text(http::StatusCode::OK, "OK"),
        "/livez" => livez(&app.client).await,
        "/readyz" => readyz(&CustomRuntime::for_readiness(&app.served, app.custom.as_deref())),
        "/overview.json" => {
            let o = app.overview.current(&app.served).await;
            let mut body = serde_json::to_vec(&*o).unwrap_or_default();
            body.push(b'\n');
            with_type(body, "application/json")
        }
        "/" => {
            let o = app.overview.current(&app.served).await;
            let fragment = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "fragment=main"));
            let html =
                if fragment { crate::overview::page::main(&o) } else { crate::overview::page::page(&o, MAIN_LINKS) };
            with_type(html.into_bytes(), "text/html; charset=utf-8")
        }
        _ => index(MAIN_INDEX),
    }
}

pub async fn telemetry_handler(telemetry: Arc<Telemetry>, req: Request) -> Response {
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
        Scrape::new(&CustomRuntime::merged(&app.served, app.custom.as_deref()), &filter, format.is_open_metrics());
    if let Some(object) = filter.object() {
        // One object's series (the overview page links here): a person's click, not a scraper's poll.
        let body = crate::scrape::object_of(scrape, object);
        let mut r = http::Response::new(server::full(body));
        let ct = http::HeaderValue::from_str(format.content_type())
            .unwrap_or_else(|_| http::HeaderValue::from_static(exposition::TEXT_CONTENT_TYPE));
        r.headers_mut().insert(http::header::CONTENT_TYPE, ct);
        return r;
    }
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
/// each resource still pending on a line of its own, with why when one is failing (e.g.
/// `secrets (forbidden): HTTP 403 Forbidden: secrets is forbidden: …`).
pub fn readyz(served: &[Served]) -> Response {
    let waiting: Vec<String> =
        served.iter().filter(|w| !w.store.synced()).map(|w| pending_line(&w.name, &w.store.errors())).collect();
    if waiting.is_empty() {
        server::text(http::StatusCode::OK, "OK")
    } else {
        server::text(
            http::StatusCode::SERVICE_UNAVAILABLE,
            format!("Service Unavailable: initial list pending for:\n{}\n", waiting.join("\n")),
        )
    }
}

/// `name`, or `name (class): detail` for a failing one (errors are `class: detail`).
fn pending_line(name: &str, errors: &[String]) -> String {
    match errors {
        [] => name.to_owned(),
        [one] => match one.split_once(": ") {
            Some((class, detail)) => format!("{name} ({class}): {detail}"),
            None => format!("{name} ({one})"),
        },
        many => format!("{name} ({})", many.join("; ")),
    }
}

/// The links of upstream's index page, kept below the overview.
const MAIN_LINKS: &[(&str, &str)] =
    &[("metrics", "metrics"), ("healthz", "healthz"), ("livez", "livez"), ("readyz", "readyz")];

fn with_type(body: Vec<u8>, content_type: &'static str) -> Response {
    let mut r = http::Response::new(server::full(body));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    r.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    r
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
