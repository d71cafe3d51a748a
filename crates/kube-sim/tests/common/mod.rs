//! Shared helpers: a plain-HTTP client speaking to a sim.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub struct Http {
    pub base: String,
    pub token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        Self {
            base: base.to_string(),
            token: token.map(str::to_string),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    fn build(
        &self,
        method: &str,
        path: &str,
        ct: &str,
        body: &str,
        accept: Option<&str>,
    ) -> http::Request<Full<Bytes>> {
        let mut b = http::Request::builder().method(method).uri(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            b = b.header("Authorization", format!("Bearer {t}"));
        }
        if !ct.is_empty() {
            b = b.header("Content-Type", ct);
        }
        if let Some(a) = accept {
            b = b.header("Accept", a);
        }
        b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
    }

    /// Send a request; returns status, content type and parsed JSON body (Null if not JSON).
    pub async fn req(&self, method: &str, path: &str, ct: &str, body: &str) -> (u16, String, Value) {
        self.req_accept(method, path, ct, body, None).await
    }

    pub async fn req_accept(
        &self,
        method: &str,
        path: &str,
        ct: &str,
        body: &str,
        accept: Option<&str>,
    ) -> (u16, String, Value) {
        let resp = self.client.request(self.build(method, path, ct, body, accept)).await.unwrap();
        let status = resp.status().as_u16();
        let ctype = resp.headers().get("content-type").map(|h| h.to_str().unwrap().to_string()).unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A GET whose body is read whole (a watch must end on its own): status, headers, body bytes.
    pub async fn raw(&self, path: &str) -> (u16, http::HeaderMap, Bytes) {
        let resp = self.client.request(self.build("GET", path, "", "", None)).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.into_body().collect().await.unwrap().to_bytes())
    }

    /// A GET with extra request headers, read whole: status, headers, body bytes.
    pub async fn raw_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, http::HeaderMap, Bytes) {
        let mut req = self.build("GET", path, "", "", None);
        for (k, v) in headers {
            req.headers_mut()
                .insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), http::HeaderValue::from_str(v).unwrap());
        }
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.into_body().collect().await.unwrap().to_bytes())
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, _, v) = self.req("GET", path, "", "").await;
        (s, v)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, _, v) = self.req("POST", path, "application/json", &body.to_string()).await;
        (s, v)
    }

    /// Open a watch and collect events until `n` arrived, the stream ends, or `wait` passes.
    pub async fn watch(&self, path: &str, n: usize, wait: Duration) -> (Vec<Value>, bool) {
        let resp = self.client.request(self.build("GET", path, "", "", None)).await.unwrap();
        assert_eq!(resp.status(), 200, "watch {path}");
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        let mut ended = false;
        while events.len() < n {
            let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => break,
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(f)) => f.unwrap(),
            };
            if let Some(d) = frame.data_ref() {
                buf.extend_from_slice(d);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    events.push(serde_json::from_slice(&line).unwrap());
                }
            }
        }
        (events, ended)
    }
}

pub async fn plain_sim(window: usize) -> kube_sim::SimHandle {
    kube_sim::start(kube_sim::SimConfig {
        tls: false,
        event_window: window,
        bookmark_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap()
}
