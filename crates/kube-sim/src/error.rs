//! Errors of the simulated API server, shaped after `metav1.Status`.

use serde_json::{Value, json};

/// An API error: carries everything needed to render a real `Status` object.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct SimError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// (resource plural, name) for `details`.
    pub details: Option<(String, String)>,
}

impl SimError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }
    pub fn with_details(mut self, kind: &str, name: &str) -> Self {
        self.details = Some((kind.to_string(), name.to_string()));
        self
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
    pub fn not_found_path() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
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

    /// The `Status` object the real API server would send.
    pub fn to_status(&self) -> Value {
        let mut st = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((kind, name)) = &self.details {
            st["details"] = json!({ "name": name, "kind": kind });
        }
        st
    }
}
