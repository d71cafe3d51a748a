//! Errors of the simulated API server, shaped after `metav1.Status`.

use serde_json::{Value, json};

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: Option<String>,
}

/// `Status.details`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub name: String,
    pub group: String,
    /// The resource (plural), as the real server fills it.
    pub kind: String,
    pub causes: Vec<Cause>,
    /// `retryAfterSeconds`, also sent as the `Retry-After` header.
    pub retry_after: Option<u64>,
}

/// An API error: carries everything needed to render a real `Status` object.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct SimError {
    pub code: u16,
    /// Empty when the real server sends no `reason` (its malformed shard selector answers).
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Box<Details>>,
}

impl SimError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }
    fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }
    pub fn with_details(mut self, kind: &str, name: &str) -> Self {
        let d = self.details_mut();
        d.kind = kind.to_string();
        d.name = name.to_string();
        self
    }
    pub fn with_cause(mut self, reason: &str, message: &str, field: Option<&str>) -> Self {
        let c = Cause { reason: reason.into(), message: message.into(), field: field.map(str::to_string) };
        self.details_mut().causes.push(c);
        self
    }
    /// `details.retryAfterSeconds` and the `Retry-After` header.
    pub fn retry_after(&self) -> Option<u64> {
        self.details.as_ref().and_then(|d| d.retry_after)
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", msg)
    }
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", msg)
    }
    pub fn not_found(plural: &str, name: &str) -> Self {
        let what = if plural.is_empty() {
            "the server could not find the requested resource".to_string()
        } else {
            format!("{plural} \"{name}\" not found")
        };
        Self::new(404, "NotFound", what).with_details(plural, name)
    }
    /// What kube-apiserver answers for a path nothing serves (an unknown group, version or
    /// resource): its `details` is present and empty.
    pub fn not_found_path() -> Self {
        let mut e = Self::new(404, "NotFound", "the server could not find the requested resource");
        e.details = Some(Box::default());
        e
    }
    pub fn method_not_allowed(msg: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", msg)
    }
    pub fn already_exists(plural: &str, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{plural} \"{name}\" already exists")).with_details(plural, name)
    }
    pub fn conflict(plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .with_details(plural, name)
    }
    pub fn expired(msg: impl Into<String>) -> Self {
        Self::new(410, "Expired", msg)
    }
    pub fn invalid(kind: &str, name: &str, msg: impl Into<String>) -> Self {
        let msg = msg.into();
        Self::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {msg}")).with_details(kind, name)
    }
    pub fn unsupported_media(msg: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", msg)
    }
    pub fn too_many_requests() -> Self {
        Self::new(429, "TooManyRequests", "Too many requests, please try again later.")
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(500, "InternalError", msg)
    }
    /// What the watch cache answers when it did not reach a requested resourceVersion in time.
    pub fn rv_too_large(requested: u64, current: u64) -> Self {
        let mut e =
            Self::new(504, "Timeout", format!("Timeout: Too large resource version: {requested}, current: {current}"))
                .with_cause("ResourceVersionTooLarge", "Too large resource version", None);
        e.details_mut().retry_after = Some(1);
        e
    }

    /// The `Status` object the real API server would send, fields in its order.
    pub fn to_status(&self) -> Value {
        serde_json::from_slice(&self.status_bytes()).unwrap_or(Value::Null)
    }

    /// The `Status` as the real server serializes it (its field order, compact).
    pub fn status_bytes(&self) -> Vec<u8> {
        let mut details = Vec::new();
        let d = self.details.as_deref().cloned().unwrap_or_default();
        // Go leaves empty strings and lists out (`omitempty`).
        for (k, v) in [("name", &d.name), ("group", &d.group), ("kind", &d.kind)] {
            if !v.is_empty() {
                details.push((k, json!(v)));
            }
        }
        if !d.causes.is_empty() {
            let causes: Vec<String> = d
                .causes
                .iter()
                .map(|c| {
                    let mut f = vec![("reason", json!(c.reason)), ("message", json!(c.message))];
                    if let Some(field) = &c.field {
                        f.push(("field", json!(field)));
                    }
                    ordered(&f)
                })
                .collect();
            details.push(("causes", raw(&format!("[{}]", causes.join(",")))));
        }
        if let Some(s) = d.retry_after {
            details.push(("retryAfterSeconds", json!(s)));
        }
        let mut f = vec![
            ("kind", json!("Status")),
            ("apiVersion", json!("v1")),
            ("metadata", json!({})),
            ("status", json!("Failure")),
            ("message", json!(self.message)),
        ];
        if !self.reason.is_empty() {
            f.push(("reason", json!(self.reason)));
        }
        if self.details.is_some() {
            f.push(("details", raw(&ordered(&details))));
        }
        f.push(("code", json!(self.code)));
        ordered(&f).into_bytes()
    }
}

/// A pre-serialized JSON fragment to place inside [`ordered`] output.
pub(crate) fn raw(json: &str) -> Value {
    Value::String(format!("{RAW_MARK}{json}"))
}

const RAW_MARK: &str = "\u{0}raw:";

/// A JSON object with its keys in the given order (serde_json sorts map keys; Go writes struct
/// fields in declaration order, and byte-for-byte comparisons with a real server need that order).
pub(crate) fn ordered(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String((*k).to_string()).to_string());
        out.push(':');
        match v.as_str().and_then(|s| s.strip_prefix(RAW_MARK)) {
            Some(r) => out.push_str(r),
            None => out.push_str(&v.to_string()),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_the_real_field_order() {
        let e = SimError::rv_too_large(999_999_999, 428);
        assert_eq!(
            String::from_utf8(e.status_bytes()).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: Too large resource version: 999999999, current: 428","reason":"Timeout","details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1},"code":504}"#
        );
        let nf = SimError::not_found("pods", "does-not-exist");
        assert_eq!(
            String::from_utf8(nf.status_bytes()).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"does-not-exist\" not found","reason":"NotFound","details":{"name":"does-not-exist","kind":"pods"},"code":404}"#
        );
        let no_reason = SimError::new(500, "", "invalid shard selector: x");
        assert_eq!(no_reason.to_status()["reason"], Value::Null);
        assert_eq!(no_reason.to_status()["code"], 500);
    }
}
