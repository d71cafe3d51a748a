//! Helpers for the metrics-server end-to-end tests: an HTTPS client that can present a front-proxy
//! certificate or a bearer token, and a kube-sim hook answering TokenReview / SubjectAccessReview.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use kubelet_sim::insecure::AnyServerCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// How a test request authenticates.
pub enum Cred<'a> {
    None,
    Bearer(&'a str),
    /// Front-proxy client certificate plus identity headers (user, group).
    FrontProxy(&'a str, &'a str),
}

/// The front-proxy client certificate used by [`Cred::FrontProxy`].
pub struct FrontProxyCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// GET `path` from the server on 127.0.0.1:`port`; returns (status, body).
pub async fn get(port: u16, path: &str, cred: Cred<'_>, front: &FrontProxyCert) -> anyhow::Result<(u16, String)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)));
    let cfg = match cred {
        Cred::FrontProxy(..) => builder.with_client_auth_cert(front.chain.clone(), front.key.clone_key())?,
        _ => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(ServerName::try_from("127.0.0.1")?, tcp).await?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    let mut req = http::Request::get(path).header("host", format!("127.0.0.1:{port}"));
    match cred {
        Cred::None => {}
        Cred::Bearer(t) => req = req.header("authorization", format!("Bearer {t}")),
        Cred::FrontProxy(user, group) => req = req.header("x-remote-user", user).header("x-remote-group", group),
    }
    let resp =
        tokio::time::timeout(Duration::from_secs(10), send.send_request(req.body(Empty::<Bytes>::new())?)).await??;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// TokenReview: `alice-token` → alice, `bob-token` → bob, anything else unauthenticated.
/// SubjectAccessReview: alice may do anything, everyone else is denied.
pub struct ReviewHook;

fn json_response(v: serde_json::Value) -> http::Response<kube_sim::Body> {
    let body = Full::new(Bytes::from(v.to_string())).map_err(|e| match e {}).boxed();
    let mut r = http::Response::new(body);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    *r.status_mut() = http::StatusCode::CREATED;
    r
}

impl kube_sim::RouteHook for ReviewHook {
    fn route(
        &self,
        req: &kube_sim::HookRequest,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = http::Response<kube_sim::Body>> + Send>>> {
        if req.method != http::Method::POST {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(&req.body).ok()?;
        if req.path == "/apis/authentication.k8s.io/v1/tokenreviews" {
            let token = body["spec"]["token"].as_str().unwrap_or("");
            let user = match token {
                "alice-token" => Some("alice"),
                "bob-token" => Some("bob"),
                _ => None,
            };
            let status = match user {
                Some(u) => serde_json::json!({"authenticated": true, "user": {"username": u, "groups": ["devs"]}}),
                None => serde_json::json!({"authenticated": false}),
            };
            let out = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "metadata": {}, "spec": body["spec"], "status": status});
            return Some(Box::pin(async move { json_response(out) }));
        }
        if req.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews" {
            let allowed = body["spec"]["user"].as_str() == Some("alice");
            let out = serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "metadata": {}, "spec": body["spec"],
                "status": {"allowed": allowed, "reason": if allowed { "" } else { "test policy denies" }}});
            return Some(Box::pin(async move { json_response(out) }));
        }
        None
    }
}
