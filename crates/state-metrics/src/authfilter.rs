//! `--auth-filter`: Kubernetes authentication and authorization in front of `/metrics` (main and
//! telemetry), as a kube-rbac-proxy would do: the bearer token is checked with a TokenReview
//! (authentication.k8s.io/v1), then the user it names with a SubjectAccessReview
//! (authorization.k8s.io/v1) for the non-resource URL being requested.
//!
//! Outcomes: no or invalid token → 401; authenticated but not allowed → 403; API server unreachable or
//! failing → 503 "auth filter unavailable" (never cached, so a recovered API server helps at once).
//! Decisions are cached for a short time so that each scrape does not cost two API calls.

use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};

use crate::credcache::{Cache, Hasher};
use crate::server::Response;

/// How long a decision is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// At most this many (token, verb, path) decisions are kept, each as a 32-byte digest: a few tens of
/// KiB whatever tokens clients send.
pub const CACHE_MAX: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No token, or the API server does not know it.
    Unauthenticated,
    /// Known user, not allowed.
    Denied,
    Allowed,
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The SubjectAccessReview verb of an HTTP method, as the API server derives it for non-resource URLs.
pub fn verb(method: &http::Method) -> String {
    if method == http::Method::HEAD { "get".to_owned() } else { method.as_str().to_ascii_lowercase() }
}

/// Errors talking to the API server; they make the filter answer 503.
#[derive(Debug, thiserror::Error)]
pub enum AuthFilterError {
    #[error("TokenReview: {0}")]
    TokenReview(kube::Error),
    #[error("SubjectAccessReview: {0}")]
    SubjectAccessReview(kube::Error),
}

pub struct AuthFilter {
    client: kube::Client,
    hasher: Hasher,
    cache: Cache<Decision>,
}

impl AuthFilter {
    pub fn new(client: kube::Client) -> Self {
        AuthFilter { client, hasher: Hasher::new(), cache: Cache::new(Some(CACHE_TTL), CACHE_MAX) }
    }

    /// `None` lets the request through; otherwise the response to send instead.
    pub async fn refusal(&self, req: &crate::server::Request) -> Option<Response> {
        self.refusal_for(req, req.uri().path()).await
    }

    /// [`AuthFilter::refusal`], authorizing the request as one for `path` (pages that show what `path`
    /// serves need no RBAC rule of their own).
    pub async fn refusal_for(&self, req: &crate::server::Request, path: &str) -> Option<Response> {
        let header = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let verb = verb(req.method());
        let decision = match bearer_token(header) {
            None => Decision::Unauthenticated,
            Some(token) => match self.decide(token, &verb, path).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "auth filter: API server review failed");
                    return Some(crate::server::text(
                        http::StatusCode::SERVICE_UNAVAILABLE,
                        "auth filter unavailable\n",
                    ));
                }
            },
        };
        match decision {
            Decision::Allowed => None,
            Decision::Unauthenticated => Some(crate::server::text(http::StatusCode::UNAUTHORIZED, "Unauthorized\n")),
            Decision::Denied => Some(crate::server::text(http::StatusCode::FORBIDDEN, "Forbidden\n")),
        }
    }

    /// The (possibly cached) decision for `token` doing `verb` on `path`.
    pub async fn decide(&self, token: &str, verb: &str, path: &str) -> Result<Decision, AuthFilterError> {
        let key = self.hasher.key(&[verb.as_bytes(), path.as_bytes(), token.as_bytes()]);
        if let Some(d) = self.cache.get(&key, Instant::now()) {
            return Ok(d);
        }
        let d = self.review(token, verb, path).await?;
        self.cache.put(key, d, Instant::now());
        Ok(d)
    }

    async fn review(&self, token: &str, verb: &str, path: &str) -> Result<Decision, AuthFilterError> {
        let pp = kube::api::PostParams::default();
        let tr = TokenReview {
            spec: TokenReviewSpec { token: token.to_owned(), ..Default::default() },
            ..Default::default()
        };
        let tr = kube::Api::<TokenReview>::all(self.client.clone())
            .create(&pp, &tr)
            .await
            .map_err(AuthFilterError::TokenReview)?;
        let status = tr.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            tracing::debug!(error = ?status.error, "auth filter: token not authenticated");
            return Ok(Decision::Unauthenticated);
        }
        let user = status.user.unwrap_or_default();
        let sar = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                groups: user.groups,
                uid: user.uid,
                extra: user.extra,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(path.to_owned()),
                    verb: Some(verb.to_owned()),
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let sar = kube::Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&pp, &sar)
            .await
            .map_err(AuthFilterError::SubjectAccessReview)?;
        let allowed = sar.status.is_some_and(|s| s.allowed);
        if !allowed {
            tracing::debug!(user = ?user.username, verb, path, "auth filter: access denied");
        }
        Ok(if allowed { Decision::Allowed } else { Decision::Denied })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_recognized() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic dXNlcjpwdw==")), None);
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(None), None);
    }

    #[test]
    fn verbs_follow_the_api_server() {
        assert_eq!(verb(&http::Method::GET), "get");
        assert_eq!(verb(&http::Method::HEAD), "get");
        assert_eq!(verb(&http::Method::POST), "post");
    }
}
