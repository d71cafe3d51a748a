//! API aggregation as kube-apiserver does it with `--enable-aggregator-routing=false`: an APIService
//! with `spec.service` sends `/apis/GROUP/VERSION/...` to that Service (its `externalName`, or else its
//! clusterIP) over HTTPS, with the front-proxy client certificate and the caller's identity in
//! request headers.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::error::SimError;
use crate::http::{Body, HookRequest};
use crate::store::{EventType, Store};
use crate::tls::{FRONT_PROXY_CN, FrontProxy};

const API_VERSION: &str = "apiregistration.k8s.io/v1";
const AUTH_CONFIGMAP: &str = "extension-apiserver-authentication";
/// Aggregated requests may be slow lists; kube-apiserver's default request timeout is a minute.
const PROXY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where an aggregated group/version is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backend {
    host: String,
    port: u16,
    /// `<service>.<namespace>.svc`, the name kube-apiserver verifies the serving certificate against.
    server_name: String,
    /// CA to verify with; `None` = `insecureSkipTLSVerify`.
    ca_pem: Option<String>,
}

/// The APIService of a group/version if it names a Service; `None` for local or unknown ones.
fn api_service(store: &Store, group: &str, version: &str) -> Option<Value> {
    let svc = store.get(API_VERSION, "APIService", None, &format!("{version}.{group}"))?;
    svc["spec"]["service"].is_object().then_some(svc)
}

/// Resolve an APIService to the address behind its Service.
fn backend(store: &Store, api_service: &Value) -> Result<Backend, SimError> {
    let spec = &api_service["spec"];
    let ns = spec["service"]["namespace"].as_str().unwrap_or("default");
    let name = spec["service"]["name"].as_str().unwrap_or_default();
    let port = spec["service"]["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(443);
    let unavailable = |why: String| SimError::new(503, "ServiceUnavailable", why);
    let svc = store
        .get("v1", "Service", Some(ns), name)
        .ok_or_else(|| unavailable(format!("service \"{name}\" in namespace \"{ns}\" not found")))?;
    let host = match svc["spec"]["type"].as_str() {
        Some("ExternalName") => svc["spec"]["externalName"].as_str().unwrap_or_default().to_string(),
        _ => svc["spec"]["clusterIP"].as_str().unwrap_or_default().to_string(),
    };
    if host.is_empty() || host == "None" {
        return Err(unavailable(format!("service \"{name}\" in namespace \"{ns}\" has no address")));
    }
    let ca_pem = if spec["insecureSkipTLSVerify"].as_bool() == Some(true) {
        None
    } else {
        let b64 = spec["caBundle"].as_str().unwrap_or_default();
        let pem = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| {
                unavailable(format!(
                    "APIService has neither caBundle nor insecureSkipTLSVerify for service {ns}/{name}"
                ))
            })?;
        Some(pem)
    };
    Ok(Backend { host, port, server_name: format!("{name}.{ns}.svc"), ca_pem })
}

/// Groups served through APIServices, for `/apis` discovery: (group, [versions]).
pub(crate) fn aggregated_groups(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for s in store.list(API_VERSION, "APIService", None) {
        if !s["spec"]["service"].is_object() {
            continue;
        }
        let (Some(g), Some(v)) = (s["spec"]["group"].as_str(), s["spec"]["version"].as_str()) else {
            continue;
        };
        match out.iter_mut().find(|(name, _)| name == g) {
            Some((_, vs)) => vs.push(v.to_string()),
            None => out.push((g.to_string(), vec![v.to_string()])),
        }
    }
    out
}

/// The proxy half of the aggregator.
pub(crate) struct Aggregator {
    pub front: FrontProxy,
}

impl Aggregator {
    /// Take a request for `/apis/GROUP/VERSION/...` when an APIService sends it elsewhere.
    pub(crate) fn route(
        self: &Arc<Self>,
        store: &Store,
        req: &HookRequest,
        group: &str,
        version: &str,
    ) -> Option<futures::future::BoxFuture<'static, Response<Body>>> {
        let svc = api_service(store, group, version)?;
        let backend = backend(store, &svc);
        let this = self.clone();
        let user = req.user.clone();
        let path_and_query = match &req.raw_query {
            Some(q) => format!("{}?{q}", req.path),
            None => req.path.clone(),
        };
        let mut out = Request::builder().method(req.method.clone()).uri(path_and_query);
        // The caller's headers go along (content negotiation, compression, conditional requests), except
        // its credentials, hop-by-hop ones and any identity headers of its own.
        for (name, v) in &req.headers {
            if !forwarded(name) {
                continue;
            }
            out = out.header(name, v.clone());
        }
        if let Some(u) = &user {
            out = out.header("X-Remote-User", u.name.as_str());
            for g in &u.groups {
                out = out.header("X-Remote-Group", g.as_str());
            }
        }
        let body = req.body.clone();
        Some(Box::pin(async move {
            let res = match backend {
                Ok(b) => this.forward(&b, out, body).await,
                Err(e) => Err(e),
            };
            match res {
                Ok(r) => r,
                Err(e) => crate::http::error_response(&e),
            }
        }))
    }

    async fn forward(&self, b: &Backend, out: http::request::Builder, body: Bytes) -> Result<Response<Body>, SimError> {
        let out = out
            .header(header::HOST, format!("{}:{}", b.host, b.port))
            .body(Full::new(body))
            .map_err(|e| SimError::bad_request(format!("building proxied request: {e}")))?;
        let cfg = crate::client::client_config(b.ca_pem.as_deref(), Some((&self.front.cert_pem, &self.front.key_pem)))
            .map_err(|e| SimError::internal(format!("aggregator TLS: {e:#}")))?;
        // An IP address is verified as such; a DNS name as the Service's in-cluster name.
        let name = if b.host.parse::<std::net::IpAddr>().is_ok() { b.host.clone() } else { b.server_name.clone() };
        let server_name = crate::client::server_name(&name).map_err(|e| SimError::internal(format!("{e:#}")))?;
        let resp = crate::client::send(&b.host, b.port, server_name, cfg, out, PROXY_TIMEOUT).await.map_err(|e| {
            tracing::debug!(host = %b.host, port = b.port, error = %e, "aggregated API unreachable");
            SimError::new(503, "ServiceUnavailable", format!("error trying to reach service: {e:#}"))
        })?;
        let (parts, bytes) = resp.into_parts();
        let mut r = Response::new(Full::new(bytes).boxed());
        *r.status_mut() = parts.status;
        for (name, v) in &parts.headers {
            if !is_hop_by_hop(name) && name != header::CONTENT_LENGTH {
                r.headers_mut().append(name, v.clone());
            }
        }
        if !r.headers().contains_key(header::CONTENT_TYPE) && r.status() != StatusCode::NO_CONTENT {
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(r)
    }

    /// The OpenAPI v3 document of an aggregated group/version, fetched as kube-apiserver's aggregator
    /// does: the backend's `/openapi/v3` root first, then the document it points at, as
    /// `system:aggregator`. `None` when no APIService sends the group/version elsewhere.
    pub(crate) fn openapi_v3(
        self: &Arc<Self>,
        store: &Store,
        group: &str,
        version: &str,
    ) -> Option<futures::future::BoxFuture<'static, Response<Body>>> {
        let svc = api_service(store, group, version)?;
        let backend = backend(store, &svc);
        let this = self.clone();
        let wanted = format!("apis/{group}/{version}");
        Some(Box::pin(async move {
            let fetch = |path: String| {
                let this = this.clone();
                let backend = backend.clone();
                async move {
                    let b = backend?;
                    let req = Request::builder()
                        .method(http::Method::GET)
                        .uri(path)
                        .header(header::ACCEPT, "application/json")
                        .header("X-Remote-User", AGGREGATOR_USER);
                    let r = this.forward(&b, req, Bytes::new()).await?;
                    let status = r.status();
                    let body = r
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| SimError::internal(format!("reading OpenAPI: {e}")))?
                        .to_bytes();
                    if !status.is_success() {
                        return Err(SimError::new(
                            status.as_u16(),
                            "ServiceUnavailable",
                            format!("OpenAPI download from the aggregated server failed with status {status}"),
                        ));
                    }
                    Ok::<Bytes, SimError>(body)
                }
            };
            let doc = async {
                let root: Value = serde_json::from_slice(&fetch("/openapi/v3".to_string()).await?)
                    .map_err(|e| SimError::internal(format!("OpenAPI v3 root: {e}")))?;
                let url = root["paths"][wanted.as_str()]["serverRelativeURL"]
                    .as_str()
                    .ok_or_else(SimError::not_found_path)?
                    .to_string();
                fetch(url).await
            };
            match doc.await {
                Ok(body) => {
                    let mut r = Response::new(Full::new(body).boxed());
                    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    r
                }
                Err(e) => crate::http::error_response(&e),
            }
        }))
    }
}

/// The user kube-apiserver's aggregator downloads OpenAPI documents as (no groups).
const AGGREGATOR_USER: &str = "system:aggregator";

/// Headers that describe one connection, not the request (RFC 9110 §7.6.1), plus those a client must
/// not pass to the aggregated server: its credentials and identity or impersonation headers.
fn is_hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn forwarded(name: &header::HeaderName) -> bool {
    let n = name.as_str();
    !(is_hop_by_hop(name)
        || name == header::HOST
        || name == header::AUTHORIZATION
        || name == header::CONTENT_LENGTH
        || n.starts_with("x-remote-")
        || n.starts_with("impersonate-"))
}

/// `apis/GROUP/VERSION` of every aggregated group/version, for the OpenAPI v3 root.
pub(crate) fn openapi_v3_paths(store: &Store) -> Vec<String> {
    aggregated_groups(store)
        .into_iter()
        .flat_map(|(g, vs)| vs.into_iter().map(move |v| format!("apis/{g}/{v}")))
        .collect()
}

/// The ConfigMap kube-apiserver publishes for extension API servers.
pub(crate) fn auth_configmap(client_ca_pem: Option<&str>, front: &FrontProxy) -> Value {
    let mut data = json!({
        "requestheader-client-ca-file": front.ca_pem,
        "requestheader-allowed-names": format!("[\"{FRONT_PROXY_CN}\"]"),
        "requestheader-username-headers": "[\"X-Remote-User\"]",
        "requestheader-uid-headers": "[\"X-Remote-Uid\"]",
        "requestheader-group-headers": "[\"X-Remote-Group\"]",
        "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]",
    });
    if let Some(ca) = client_ca_pem {
        data["client-ca-file"] = json!(ca);
    }
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": AUTH_CONFIGMAP, "namespace": "kube-system"},
        "data": data,
    })
}

/// Publish the ConfigMap unless one exists (a test or user may have provided their own).
pub(crate) fn publish(store: &Store, cm: &Value) {
    if store.get("v1", "ConfigMap", Some("kube-system"), AUTH_CONFIGMAP).is_some() {
        return;
    }
    if let Err(e) = store.create(cm.clone()) {
        tracing::debug!(error = %e, "publishing {AUTH_CONFIGMAP} failed");
    }
}

/// Publish the front-proxy settings as soon as an APIService delegates to a Service: that is when
/// an extension server needs them, and leaving them out until then keeps clusters without aggregated
/// APIs free to bring their own.
pub(crate) async fn publish_when_needed(store: Arc<Store>, cm: Value, stop: CancellationToken) {
    let Some(rt) = store.resource_for(API_VERSION, "APIService") else {
        return;
    };
    let key = rt.key();
    loop {
        let (items, _, mut rx) = store.watch_with_snapshot(&rt, None);
        if items.iter().any(|o| o.value()["spec"]["service"].is_object()) {
            publish(&store, &cm);
            return;
        }
        loop {
            let ev = tokio::select! {
                _ = stop.cancelled() => return,
                ev = rx.recv() => ev,
            };
            match ev {
                Ok(ev) if ev.res == key && ev.etype != EventType::Deleted => {
                    if ev.obj.value()["spec"]["service"].is_object() {
                        publish(&store, &cm);
                        return;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let s = Store::new(100);
        crate::fixtures::ensure_namespace(&s, "kube-system").unwrap();
        s
    }

    #[test]
    fn api_service_resolves_through_its_service() {
        let s = store();
        s.create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ms", "namespace": "kube-system"},
            "spec": {"type": "ExternalName", "externalName": "127.0.0.1"}}))
            .unwrap();
        s.create(
            json!({"apiVersion": API_VERSION, "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
                "service": {"namespace": "kube-system", "name": "ms", "port": 4443}}}),
        )
        .unwrap();
        s.create(json!({"apiVersion": API_VERSION, "kind": "APIService", "metadata": {"name": "v1.local.io"},
            "spec": {"group": "local.io", "version": "v1"}}))
            .unwrap();
        let svc = api_service(&s, "metrics.k8s.io", "v1beta1").unwrap();
        let b = backend(&s, &svc).unwrap();
        assert_eq!((b.host.as_str(), b.port, b.ca_pem.is_none()), ("127.0.0.1", 4443, true));
        assert_eq!(b.server_name, "ms.kube-system.svc");
        assert!(api_service(&s, "local.io", "v1").is_none());
        assert_eq!(aggregated_groups(&s), vec![("metrics.k8s.io".to_string(), vec!["v1beta1".to_string()])]);

        // A ClusterIP Service is reached at its clusterIP; without a CA the APIService is unusable.
        s.create(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": "kube-system"},
            "spec": {"clusterIP": "10.0.0.9"}}),
        )
        .unwrap();
        let bad = json!({"spec": {"service": {"namespace": "kube-system", "name": "other"}}});
        assert_eq!(backend(&s, &bad).unwrap_err().code, 503);
        let ca = base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\nx\n");
        let good = json!({"spec": {"caBundle": ca, "service": {"namespace": "kube-system", "name": "other"}}});
        let b = backend(&s, &good).unwrap();
        assert_eq!((b.host.as_str(), b.port), ("10.0.0.9", 443));
        let missing = json!({"spec": {"insecureSkipTLSVerify": true, "service": {"namespace": "x", "name": "y"}}});
        assert_eq!(backend(&s, &missing).unwrap_err().code, 503);
    }

    #[test]
    fn proxied_headers() {
        for kept in ["accept", "accept-encoding", "if-none-match", "user-agent", "content-type"] {
            assert!(forwarded(&header::HeaderName::from_static(kept)), "{kept}");
        }
        for dropped in [
            "authorization",
            "host",
            "connection",
            "x-remote-user",
            "x-remote-extra-scopes",
            "impersonate-user",
            "content-length",
        ] {
            assert!(!forwarded(&header::HeaderName::from_static(dropped)), "{dropped}");
        }
        assert!(is_hop_by_hop(&header::TRANSFER_ENCODING) && !is_hop_by_hop(&header::CONTENT_ENCODING));
    }

    #[test]
    fn auth_configmap_has_kube_apiserver_keys() {
        let front = FrontProxy { ca_pem: "CA".into(), cert_pem: String::new(), key_pem: String::new() };
        let cm = auth_configmap(Some("CLIENT"), &front);
        assert_eq!(cm["data"]["requestheader-allowed-names"], "[\"front-proxy-client\"]");
        assert_eq!(cm["data"]["requestheader-client-ca-file"], "CA");
        assert_eq!(cm["data"]["client-ca-file"], "CLIENT");
        let s = store();
        publish(&s, &cm);
        publish(&s, &cm);
        assert!(s.get("v1", "ConfigMap", Some("kube-system"), AUTH_CONFIGMAP).is_some());
    }
}
