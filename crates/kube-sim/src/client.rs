//! A small HTTPS client for the simulator's own outbound calls: kubelet front ends and aggregated APIs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use kubelet_sim::insecure::AnyServerCert;
use rustls::pki_types::ServerName;

/// Largest response body read back.
const MAX_RESPONSE: usize = 64 << 20;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How to trust the server and whether to present a client certificate.
pub(crate) fn client_config(
    ca_pem: Option<&str>,
    client_cert: Option<(&str, &str)>,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let p = provider();
    let builder = rustls::ClientConfig::builder_with_provider(p.clone()).with_safe_default_protocol_versions()?;
    let builder = match ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in crate::tls::pem_certs(pem)? {
                roots.add(c).context("adding CA certificate")?;
            }
            builder.with_root_certificates(roots)
        }
        None => builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServerCert(p))),
    };
    let mut cfg = match client_cert {
        Some((cert, key)) => builder.with_client_auth_cert(crate::tls::pem_certs(cert)?, crate::tls::pem_key(key)?)?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Send one request over a fresh TLS connection to `host:port` and read the whole response.
pub(crate) async fn send(
    host: &str,
    port: u16,
    server_name: ServerName<'static>,
    cfg: Arc<rustls::ClientConfig>,
    req: Request<Full<Bytes>>,
    timeout: Duration,
) -> anyhow::Result<Response<Bytes>> {
    let fut = async move {
        let tcp =
            tokio::net::TcpStream::connect((host, port)).await.with_context(|| format!("connecting {host}:{port}"))?;
        let _ = tcp.set_nodelay(true);
        let tls = tokio_rustls::TlsConnector::from(cfg).connect(server_name, tcp).await.context("TLS handshake")?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let resp = sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = http_body_util::Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading response: {e}"))?
            .to_bytes();
        Ok(Response::from_parts(parts, body))
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| anyhow::anyhow!("request to {host}:{port} timed out"))?
}

/// The TLS server name for a host: an IP address or a DNS name.
pub(crate) fn server_name(host: &str) -> anyhow::Result<ServerName<'static>> {
    ServerName::try_from(host.to_string()).map_err(|e| anyhow::anyhow!("invalid server name {host:?}: {e}"))
}
