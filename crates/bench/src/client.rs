//! HTTP clients: plain HTTP with a connection pool (kube-sim in plain-HTTP mode, kube-state-metrics) and
//! one kept-alive HTTPS connection presenting a front-proxy client certificate (metrics-server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubelet_sim::insecure::AnyServerCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

const TIMEOUT: Duration = Duration::from_secs(120);

/// A response read whole, with the time from sending the request to the last body byte.
pub struct Resp {
    pub status: u16,
    pub body: Bytes,
    pub elapsed: Duration,
}

/// Pooled plain-HTTP client for one base URL, optionally with a bearer token.
#[derive(Clone)]
pub struct Plain {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: Option<String>,
}

impl Plain {
    pub fn new(base: impl Into<String>, token: Option<String>) -> Self {
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(32).build_http();
        Plain { client, base: base.into(), token }
    }

    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn request(
        &self,
        method: http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Resp> {
        let url = format!("{}{}", self.base, path);
        let mut req = http::Request::builder().method(method.clone()).uri(&url);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some((ct, b)) => {
                req = req.header("content-type", ct);
                Full::new(Bytes::from(b))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body)?;
        let start = Instant::now();
        let fut = async {
            let resp = self.client.request(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        let (status, body) =
            tokio::time::timeout(TIMEOUT, fut).await.with_context(|| format!("{method} {url}: timed out"))??;
        Ok(Resp { status, body, elapsed: start.elapsed() })
    }

    /// GET that must answer 200, reading the body frame by frame and keeping only its length: the time
    /// to the last byte, as a scraper that parses as it reads sees it (assembling 92 MB into one buffer
    /// would time the client's copy too).
    pub async fn get_len(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<(usize, Duration)> {
        let url = format!("{}{}", self.base, path);
        let mut req = http::Request::builder().uri(&url);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::new()))?;
        let start = Instant::now();
        let fut = async {
            let resp = self.client.request(req).await?;
            anyhow::ensure!(resp.status() == 200, "GET {path}: status {}", resp.status());
            let mut body = resp.into_body();
            let mut len = 0;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    len += data.len();
                }
            }
            anyhow::Ok(len)
        };
        let len = tokio::time::timeout(TIMEOUT, fut).await.with_context(|| format!("GET {url}: timed out"))??;
        Ok((len, start.elapsed()))
    }

    /// `n` of [`Plain::get_len`] one after the other: their times in seconds.
    pub async fn times(&self, n: usize, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Vec<f64>> {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            times.push(self.get_len(path, headers).await?.1.as_secs_f64());
        }
        Ok(times)
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Resp> {
        self.request(http::Method::GET, path, headers, None).await
    }

    /// GET that must answer 200.
    pub async fn get_ok(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Resp> {
        let r = self.get(path, headers).await?;
        anyhow::ensure!(r.status == 200, "GET {path}: status {}: {}", r.status, String::from_utf8_lossy(&r.body));
        Ok(r)
    }

    /// A POST without a body that must answer 2xx.
    pub async fn post_ok(&self, path: &str) -> anyhow::Result<Resp> {
        let r = self.request(http::Method::POST, path, &[], None).await?;
        anyhow::ensure!((200..300).contains(&r.status), "POST {path}: status {}", r.status);
        Ok(r)
    }

    /// A JSON write that must answer 2xx.
    pub async fn send_json(
        &self,
        method: http::Method,
        path: &str,
        content_type: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<Resp> {
        let r = self.request(method.clone(), path, &[], Some((content_type, body.to_string().into_bytes()))).await?;
        anyhow::ensure!(
            (200..300).contains(&r.status),
            "{method} {path}: status {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        Ok(r)
    }
}

/// One HTTPS connection to 127.0.0.1:port authenticating as a front proxy for `system:masters`.
pub struct FrontProxy {
    send: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    port: u16,
}

impl FrontProxy {
    pub async fn connect(
        port: u16,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> anyhow::Result<FrontProxy> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
            .with_client_auth_cert(chain, key)?;
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let tls =
            tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(ServerName::try_from("127.0.0.1")?, tcp).await?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("metrics-server connection closed: {e}");
            }
        });
        Ok(FrontProxy { send, port })
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Resp> {
        self.send.ready().await?;
        let req = http::Request::get(path)
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("x-remote-user", "kubestate-bench")
            .header("x-remote-group", "system:masters")
            .body(Empty::<Bytes>::new())?;
        let start = Instant::now();
        let fut = async {
            let resp = self.send.send_request(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        let (status, body) =
            tokio::time::timeout(TIMEOUT, fut).await.with_context(|| format!("GET {path}: timed out"))??;
        Ok(Resp { status, body, elapsed: start.elapsed() })
    }

    pub async fn get_ok(&mut self, path: &str) -> anyhow::Result<Resp> {
        let r = self.get(path).await?;
        anyhow::ensure!(r.status == 200, "GET {path}: status {}: {}", r.status, String::from_utf8_lossy(&r.body));
        Ok(r)
    }
}
