//! The API server's side of a list or watch: what a request asks for, how an error answers, and the few
//! classes of failure the watcher tells apart.

use std::fmt;

use serde::Deserialize;

/// What one list/watch covers: the collection's path (`/api/v1/pods`, `/apis/apps/v1/namespaces/x/deployments`)
/// and the selectors every request of it carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub path: String,
    pub field_selector: String,
    pub label_selector: String,
    /// KEP-5866 `shardSelector` (server-side sharding); empty for none.
    pub shard_selector: String,
}

impl Scope {
    /// `path?query` for `params` (pairs are percent-encoded here).
    pub fn uri(&self, params: &[(&str, &str)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if !self.field_selector.is_empty() {
            q.append_pair("fieldSelector", &self.field_selector);
        }
        if !self.label_selector.is_empty() {
            q.append_pair("labelSelector", &self.label_selector);
        }
        if !self.shard_selector.is_empty() {
            q.append_pair("shardSelector", &self.shard_selector);
        }
        let q = q.finish();
        if q.is_empty() { self.path.clone() } else { format!("{}?{q}", self.path) }
    }
}

/// A `v1 Status` as the API server sends it with an error (as a response body or a watch `ERROR` event).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details.causes[].reason`.
    pub causes: Vec<String>,
    /// `details.retryAfterSeconds`.
    pub retry_after_seconds: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatusJson {
    code: u16,
    reason: String,
    message: String,
    details: Option<DetailsJson>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct DetailsJson {
    causes: Vec<CauseJson>,
    retry_after_seconds: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CauseJson {
    reason: String,
}

impl Status {
    /// A Status decoded from JSON; `None` if the text is not one.
    pub fn from_json(text: &[u8]) -> Option<Status> {
        let s: StatusJson = serde_json::from_slice(text).ok()?;
        let details = s.details.unwrap_or_default();
        Some(Status {
            code: s.code,
            reason: s.reason,
            message: s.message,
            causes: details.causes.into_iter().map(|c| c.reason).filter(|r| !r.is_empty()).collect(),
            retry_after_seconds: details.retry_after_seconds,
        })
    }

    /// A Status made up for an error response that did not carry one.
    pub fn bare(code: u16, body: &[u8]) -> Status {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned();
        Status { code, message: text, ..Status::default() }
    }

    /// The resourceVersion asked for is older than the server keeps (client-go's `isExpiredError`:
    /// reason `Expired` or `Gone`, which arrive with code 410).
    pub fn is_expired(&self) -> bool {
        self.code == 410 || self.reason == "Expired" || self.reason == "Gone"
    }

    /// The resourceVersion asked for is newer than the server has (client-go's
    /// `isTooLargeResourceVersionError`: the `ResourceVersionTooLarge` cause, or, from servers before it
    /// existed, a 504 Timeout whose message says so).
    pub fn is_too_large_resource_version(&self) -> bool {
        self.causes.iter().any(|c| c == "ResourceVersionTooLarge")
            || (self.code == 504 && self.message.contains("Too large resource version"))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.reason.is_empty(), self.message.is_empty()) {
            (true, true) => write!(f, "HTTP {}", self.code),
            (true, false) => write!(f, "HTTP {}: {}", self.code, self.message),
            (false, true) => write!(f, "HTTP {} {}", self.code, self.reason),
            (false, false) => write!(f, "HTTP {} {}: {}", self.code, self.reason, self.message),
        }
    }
}

/// Why a request did not yield what it should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The API server could not be reached, or the connection broke (connect, TLS, reset, timeout).
    Unreachable(String),
    /// The server answered with an error.
    Status(Status),
    /// The server's answer could not be understood.
    Undecodable(String),
}

impl Failure {
    pub fn status(&self) -> Option<&Status> {
        match self {
            Failure::Status(s) => Some(s),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<u16> {
        self.status().map(|s| s.code)
    }

    /// The class reported once per change (a failure of the same class again is not news).
    pub fn class(&self) -> FailureClass {
        match self {
            Failure::Unreachable(_) => FailureClass::Unreachable,
            Failure::Status(s) if s.code == 401 => FailureClass::Unauthorized,
            Failure::Status(s) if s.code == 403 => FailureClass::Forbidden,
            Failure::Status(s) if s.code == 404 => FailureClass::NotFound,
            Failure::Status(_) => FailureClass::Refused,
            Failure::Undecodable(_) => FailureClass::Undecodable,
        }
    }

    /// A watch that failed this way is retried (after a backoff) without a new list, as client-go's
    /// `isWatchErrorRetriable` decides: connection refused and 429 Too Many Requests.
    pub fn watch_retriable(&self) -> bool {
        match self {
            Failure::Unreachable(_) => true,
            Failure::Status(s) => s.code == 429,
            Failure::Undecodable(_) => false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unreachable(e) => f.write_str(e),
            Failure::Status(s) => s.fmt(f),
            Failure::Undecodable(e) => write!(f, "answer not understood: {e}"),
        }
    }
}

/// Classes of failure, for reporting a change once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureClass {
    Unreachable,
    Unauthorized,
    Forbidden,
    NotFound,
    Refused,
    Undecodable,
}

impl FailureClass {
    /// A short word for readiness bodies and logs.
    pub fn word(self) -> &'static str {
        match self {
            FailureClass::Unreachable => "unreachable",
            FailureClass::Unauthorized => "unauthorized",
            FailureClass::Forbidden => "forbidden",
            FailureClass::NotFound => "not served",
            FailureClass::Refused => "error",
            FailureClass::Undecodable => "undecodable",
        }
    }
}

/// A resourceVersion as a number, where the server's are numbers (every kube-apiserver's are etcd
/// revisions; the API conventions call them opaque, so anything else simply opts out of comparisons).
pub fn rv_number(rv: &str) -> Option<u64> {
    rv.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_from_the_real_server() {
        let refused = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled","reason":"InternalError","code":500}"#;
        let s = Status::from_json(refused).unwrap();
        assert_eq!((s.code, s.reason.as_str()), (500, "InternalError"));
        assert!(!s.is_expired() && !s.is_too_large_resource_version());

        let too_large = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: Too large resource version: 999999999, current: 428","reason":"Timeout","details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1},"code":504}"#;
        let s = Status::from_json(too_large).unwrap();
        assert!(s.is_too_large_resource_version());
        assert_eq!(s.retry_after_seconds, Some(1));
        // An older server's form, without the cause.
        let old = Status {
            code: 504,
            message: "Timeout: Too large resource version: 9, current: 3".into(),
            ..Status::default()
        };
        assert!(old.is_too_large_resource_version());

        let expired = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 400 (474)","reason":"Expired","code":410}"#;
        assert!(Status::from_json(expired).unwrap().is_expired());
        assert!(Status::from_json(b"not json").is_none());
    }

    #[test]
    fn failures_are_classed_and_printed_on_one_line() {
        let f = |code| Failure::Status(Status { code, reason: "R".into(), message: "m".into(), ..Status::default() });
        assert_eq!(f(403).class(), FailureClass::Forbidden);
        assert_eq!(f(404).class(), FailureClass::NotFound);
        assert_eq!(f(500).class(), FailureClass::Refused);
        assert!(f(429).watch_retriable() && !f(500).watch_retriable());
        assert!(Failure::Unreachable("connection refused".into()).watch_retriable());
        assert_eq!(f(403).to_string(), "HTTP 403 R: m");
        assert_eq!(Status::bare(502, b"bad gateway\n").to_string(), "HTTP 502: bad gateway");
    }

    #[test]
    fn uris_carry_the_selectors_percent_encoded() {
        let s = Scope {
            path: "/api/v1/pods".into(),
            field_selector: "metadata.namespace!=kube-system,spec.nodeName=n 1".into(),
            ..Scope::default()
        };
        assert_eq!(
            s.uri(&[("limit", "500"), ("resourceVersion", "0")]),
            "/api/v1/pods?limit=500&resourceVersion=0&fieldSelector=metadata.namespace%21%3Dkube-system%2Cspec.nodeName%3Dn+1"
        );
        assert_eq!(Scope { path: "/api/v1/nodes".into(), ..Scope::default() }.uri(&[]), "/api/v1/nodes");
        let sharded = Scope {
            path: "/api/v1/pods".into(),
            shard_selector: "shardRange(object.metadata.uid,'0x0000000000000000','0x5555555555555555')".into(),
            ..Scope::default()
        };
        assert_eq!(
            sharded.uri(&[("limit", "1")]),
            "/api/v1/pods?limit=1&shardSelector=shardRange%28object.metadata.uid%2C%270x0000000000000000%27%2C%270x5555555555555555%27%29"
        );
    }
}
