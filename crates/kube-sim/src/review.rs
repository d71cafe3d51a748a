//! TokenReview and SubjectAccessReview, answered from the simulator's tokens and rule file.

use serde_json::{Value, json};

use crate::authz::{Attributes, AuthzRules, decide};
use crate::error::SimError;
use crate::http::User;

fn review_body(body: &[u8], kind: &str) -> Result<Value, SimError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| SimError::bad_request(format!("decoding {kind}: {e}")))?;
    if !v.is_object() {
        return Err(SimError::bad_request(format!("{kind} must be an object")));
    }
    if let Some(k) = v["kind"].as_str()
        && k != kind
    {
        return Err(SimError::bad_request(format!("expected kind {kind}, got {k}")));
    }
    Ok(v)
}

/// The user a token stands for, with `system:authenticated` as the real authenticator adds it.
pub fn authenticated(users: &std::collections::HashMap<String, User>, token: &str) -> Option<User> {
    let mut u = users.get(token.trim())?.clone();
    if !u.groups.iter().any(|g| g == "system:authenticated") {
        u.groups.push("system:authenticated".into());
    }
    Some(u)
}

/// Answer a TokenReview body.
pub fn token_review(users: &std::collections::HashMap<String, User>, body: &[u8]) -> Result<Value, SimError> {
    let mut v = review_body(body, "TokenReview")?;
    let token = v["spec"]["token"].as_str().unwrap_or_default();
    let status = match authenticated(users, token).filter(|_| !token.is_empty()) {
        Some(u) => json!({
            "authenticated": true,
            "user": {"username": u.name, "uid": u.uid, "groups": u.groups},
            "audiences": v["spec"]["audiences"].as_array().cloned().unwrap_or_default(),
        }),
        None => json!({"authenticated": false, "user": {}, "error": "invalid bearer token"}),
    };
    v["apiVersion"] = json!("authentication.k8s.io/v1");
    v["kind"] = json!("TokenReview");
    if !v["metadata"].is_object() {
        v["metadata"] = json!({});
    }
    v["metadata"]["creationTimestamp"] = Value::Null;
    v["status"] = status;
    Ok(v)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Answer a SubjectAccessReview body.
pub fn subject_access_review(rules: Option<&AuthzRules>, body: &[u8]) -> Result<Value, SimError> {
    let mut v = review_body(body, "SubjectAccessReview")?;
    let spec = &v["spec"];
    let user = User {
        name: s(&spec["user"]),
        uid: s(&spec["uid"]),
        groups: spec["groups"]
            .as_array()
            .map(|g| g.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
    };
    if user.name.is_empty() && user.groups.is_empty() {
        return Err(SimError::invalid(
            "SubjectAccessReview",
            "",
            "spec.user: Invalid value: \"\": at least one of user or group must be specified",
        ));
    }
    let attrs = if spec["resourceAttributes"].is_object() {
        let r = &spec["resourceAttributes"];
        Attributes::Resource {
            verb: s(&r["verb"]),
            group: s(&r["group"]),
            resource: s(&r["resource"]),
            subresource: s(&r["subresource"]),
            namespace: s(&r["namespace"]),
            name: s(&r["name"]),
        }
    } else if spec["nonResourceAttributes"].is_object() {
        let r = &spec["nonResourceAttributes"];
        Attributes::NonResource { verb: s(&r["verb"]), path: s(&r["path"]) }
    } else {
        return Err(SimError::invalid(
            "SubjectAccessReview",
            "",
            "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    };
    let allowed = decide(rules, &user, &attrs);
    v["apiVersion"] = json!("authorization.k8s.io/v1");
    v["kind"] = json!("SubjectAccessReview");
    if !v["metadata"].is_object() {
        v["metadata"] = json!({});
    }
    v["metadata"]["creationTimestamp"] = Value::Null;
    v["status"] = if allowed {
        json!({"allowed": true, "reason": "allowed by kube-sim authorization rules"})
    } else {
        json!({"allowed": false, "reason": "no kube-sim authorization rule allows this"})
    };
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_review_knows_the_tokens() {
        let mut users = std::collections::HashMap::new();
        users.insert("t1".to_string(), User { name: "alice".into(), uid: "1".into(), groups: vec!["dev".into()] });
        let ok = token_review(
            &users,
            br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"t1"}}"#,
        )
        .unwrap();
        assert_eq!(ok["status"]["authenticated"], true);
        assert_eq!(ok["status"]["user"]["username"], "alice");
        assert_eq!(ok["status"]["user"]["groups"], json!(["dev", "system:authenticated"]));
        let bad = token_review(&users, br#"{"kind":"TokenReview","spec":{"token":"nope"}}"#).unwrap();
        assert_eq!(bad["status"]["authenticated"], false);
        assert!(token_review(&users, b"not json").is_err());
    }

    #[test]
    fn sar_applies_the_rules() {
        let rules = AuthzRules::parse(
            "- users: [alice]\n  verbs: [get]\n  apiGroups: [metrics.k8s.io]\n  resources: [nodes]\n",
        )
        .unwrap();
        let ask = |user: &str| {
            let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": user, "groups": ["system:authenticated"],
                    "resourceAttributes": {"verb": "get", "group": "metrics.k8s.io", "version": "v1beta1", "resource": "nodes"}}});
            subject_access_review(Some(&rules), &serde_json::to_vec(&body).unwrap()).unwrap()["status"]["allowed"]
                .clone()
        };
        assert_eq!(ask("alice"), true);
        assert_eq!(ask("mallory"), false);
        let none = json!({"kind": "SubjectAccessReview", "spec": {"user": "x", "nonResourceAttributes": {"verb": "get", "path": "/metrics"}}});
        assert_eq!(
            subject_access_review(None, &serde_json::to_vec(&none).unwrap()).unwrap()["status"]["allowed"],
            true
        );
        let empty = json!({"kind": "SubjectAccessReview", "spec": {"user": "x"}});
        assert_eq!(subject_access_review(None, &serde_json::to_vec(&empty).unwrap()).unwrap_err().code, 422);
    }
}
