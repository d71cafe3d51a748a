//! Authorization: a rule file in the spirit of RBAC, used for ordinary requests and for
//! SubjectAccessReview answers.
//!
//! ```yaml
//! - users: [alice]
//!   groups: [dev]
//!   verbs: [get, list, watch]
//!   apiGroups: ["", apps]      # omitted = any group
//!   resources: [pods, pods/log, deployments]
//!   namespaces: [default]      # omitted = every namespace and cluster scope
//! - groups: [system:authenticated]
//!   verbs: [get]
//!   nonResourceURLs: [/metrics, /debug/*]
//! ```
//! "*" matches anything in any list. Members of `system:masters` are always allowed.

use std::path::Path;

use serde::Deserialize;

use crate::http::User;

#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("parsing authorization rules: {0}")]
    Parse(String),
    #[error("rule {index}: {msg}")]
    Invalid { index: usize, msg: String },
}

/// One rule: who may do what.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthzRule {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default, rename = "apiGroups")]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

/// What a request wants to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attributes {
    Resource { verb: String, group: String, resource: String, subresource: String, namespace: String, name: String },
    NonResource { verb: String, path: String },
}

fn any(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

impl AuthzRule {
    fn subject_matches(&self, user: &User) -> bool {
        any(&self.users, &user.name) || user.groups.iter().any(|g| any(&self.groups, g))
    }

    fn matches(&self, user: &User, attrs: &Attributes) -> bool {
        if !self.subject_matches(user) {
            return false;
        }
        match attrs {
            Attributes::Resource { verb, group, resource, subresource, namespace, .. } => {
                let full = if subresource.is_empty() { resource.clone() } else { format!("{resource}/{subresource}") };
                any(&self.verbs, verb)
                    && (self.api_groups.is_empty() || any(&self.api_groups, group))
                    && (any(&self.resources, &full) || (subresource.is_empty() && any(&self.resources, resource)))
                    && (self.namespaces.is_empty() || (!namespace.is_empty() && any(&self.namespaces, namespace)))
            }
            Attributes::NonResource { verb, path } => {
                any(&self.verbs, verb)
                    && self.non_resource_urls.iter().any(|u| match u.strip_suffix('*') {
                        Some(prefix) => path.starts_with(prefix),
                        None => u == path,
                    })
            }
        }
    }
}

/// A parsed rule file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthzRules {
    pub rules: Vec<AuthzRule>,
}

impl AuthzRules {
    pub fn parse(yaml: &str) -> Result<Self, AuthzError> {
        let rules: Vec<AuthzRule> = if yaml.trim().is_empty() {
            Vec::new()
        } else {
            serde_saphyr::from_str(yaml).map_err(|e| AuthzError::Parse(e.to_string()))?
        };
        for (index, r) in rules.iter().enumerate() {
            if r.users.is_empty() && r.groups.is_empty() {
                return Err(AuthzError::Invalid { index, msg: "names no users or groups".into() });
            }
            if r.verbs.is_empty() {
                return Err(AuthzError::Invalid { index, msg: "names no verbs".into() });
            }
            if r.resources.is_empty() && r.non_resource_urls.is_empty() {
                return Err(AuthzError::Invalid { index, msg: "names neither resources nor nonResourceURLs".into() });
            }
        }
        Ok(Self { rules })
    }

    pub fn from_file(path: &Path) -> Result<Self, AuthzError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| AuthzError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    /// Whether some rule allows the request.
    pub fn allows(&self, user: &User, attrs: &Attributes) -> bool {
        self.rules.iter().any(|r| r.matches(user, attrs))
    }
}

/// Decide a request: masters always, everyone authenticated when there are no rules.
pub fn decide(rules: Option<&AuthzRules>, user: &User, attrs: &Attributes) -> bool {
    if user.groups.iter().any(|g| g == "system:masters") {
        return true;
    }
    // Discovery and health are open to every authenticated user, as kube-apiserver's default
    // system:discovery and system:public-info-viewer bindings make them.
    if let Attributes::NonResource { verb, path } = attrs
        && verb == "get"
        && is_discovery(path)
    {
        return true;
    }
    rules.is_none_or(|r| r.allows(user, attrs))
}

fn is_discovery(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    matches!(
        segs.as_slice(),
        ["api"]
            | ["api", _]
            | ["apis"]
            | ["apis", _]
            | ["apis", _, _]
            | ["version"]
            | ["healthz"]
            | ["livez"]
            | ["readyz"]
    ) || segs.first() == Some(&"openapi")
}

/// The attributes of an HTTP request, as kube-apiserver's request-info resolver derives them.
pub fn attributes(method: &http::Method, path: &str, watch: bool) -> Attributes {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segs.as_slice() {
        ["api", _, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", g, _, rest @ ..] if !rest.is_empty() => (*g, rest),
        _ => {
            let verb = method.as_str().to_ascii_lowercase();
            return Attributes::NonResource { verb, path: path.to_string() };
        }
    };
    let (namespace, rest): (&str, &[&str]) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() && !matches!(tail[0], "status" | "finalize") => (ns, tail),
        _ => ("", rest),
    };
    let resource = rest[0].to_string();
    let name = rest.get(1).map_or("", |s| s).to_string();
    let subresource = rest.get(2).map_or("", |s| s).to_string();
    // A namespace object is addressed by name but authorized within itself.
    let namespace =
        if namespace.is_empty() && resource == "namespaces" && !name.is_empty() { &name } else { namespace };
    let verb = match *method {
        http::Method::GET | http::Method::HEAD if name.is_empty() => {
            if watch {
                "watch"
            } else {
                "list"
            }
        }
        http::Method::GET | http::Method::HEAD => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE if name.is_empty() => "deletecollection",
        http::Method::DELETE => "delete",
        _ => "unknown",
    };
    Attributes::Resource {
        verb: verb.to_string(),
        group: group.to_string(),
        resource,
        subresource,
        namespace: namespace.to_string(),
        name,
    }
}

/// kube-apiserver's wording of a denial.
pub fn forbidden_message(user: &str, attrs: &Attributes) -> String {
    match attrs {
        Attributes::Resource { verb, group, resource, subresource, namespace, name } => {
            let qualified = if group.is_empty() { resource.clone() } else { format!("{resource}.{group}") };
            let subject = if name.is_empty() { qualified } else { format!("{qualified} \"{name}\"") };
            let full = if subresource.is_empty() { resource.clone() } else { format!("{resource}/{subresource}") };
            let scope = if namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace \"{namespace}\"")
            };
            format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{full}\" in API group \"{group}\" {scope}"
            )
        }
        Attributes::NonResource { verb, path } => format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> User {
        User { name: name.into(), uid: name.into(), groups: groups.iter().map(|g| g.to_string()).collect() }
    }

    const RULES: &str = r#"
- users: [alice]
  verbs: [get, list]
  resources: [pods]
  namespaces: [default]
- groups: [ops]
  verbs: ["*"]
  apiGroups: [apps]
  resources: ["*"]
- groups: [system:authenticated]
  verbs: [get]
  nonResourceURLs: [/metrics, /debug/*]
"#;

    #[test]
    fn rules_decide_resource_and_path_requests() {
        let r = AuthzRules::parse(RULES).unwrap();
        let alice = user("alice", &["system:authenticated"]);
        let bob = user("bob", &["ops", "system:authenticated"]);
        let get = http::Method::GET;
        let list_default = attributes(&get, "/api/v1/namespaces/default/pods", false);
        assert!(decide(Some(&r), &alice, &list_default));
        assert!(!decide(Some(&r), &alice, &attributes(&get, "/api/v1/namespaces/other/pods", false)));
        assert!(!decide(Some(&r), &alice, &attributes(&get, "/api/v1/pods", false)));
        assert!(!decide(Some(&r), &alice, &attributes(&get, "/api/v1/namespaces/default/pods", true)));
        assert!(!decide(Some(&r), &alice, &attributes(&get, "/api/v1/namespaces/default/pods/p/log", false)));
        assert!(decide(
            Some(&r),
            &bob,
            &attributes(&http::Method::DELETE, "/apis/apps/v1/namespaces/x/deployments/d", false)
        ));
        assert!(!decide(Some(&r), &bob, &list_default));
        assert!(decide(Some(&r), &bob, &attributes(&get, "/debug/pprof", false)));
        assert!(!decide(Some(&r), &bob, &attributes(&http::Method::POST, "/metrics", false)));
        // Discovery is always open; masters and the no-rules case allow everything.
        assert!(decide(Some(&r), &bob, &attributes(&get, "/apis/apps/v1", false)));
        assert!(decide(Some(&r), &user("root", &["system:masters"]), &attributes(&get, "/api/v1/secrets", false)));
        assert!(decide(None, &bob, &list_default));
    }

    #[test]
    fn attributes_follow_request_info() {
        let a = attributes(&http::Method::GET, "/apis/apps/v1/namespaces/ns1/deployments/web/status", false);
        assert_eq!(
            a,
            Attributes::Resource {
                verb: "get".into(),
                group: "apps".into(),
                resource: "deployments".into(),
                subresource: "status".into(),
                namespace: "ns1".into(),
                name: "web".into()
            }
        );
        let Attributes::Resource { namespace, resource, .. } =
            attributes(&http::Method::GET, "/api/v1/namespaces/kube-system", false)
        else {
            panic!("resource request expected")
        };
        assert_eq!((namespace.as_str(), resource.as_str()), ("kube-system", "namespaces"));
        assert!(matches!(attributes(&http::Method::GET, "/apis", false), Attributes::NonResource { .. }));
    }

    #[test]
    fn denial_messages_match_kube_apiserver() {
        let m = forbidden_message("x", &attributes(&http::Method::GET, "/api/v1/pods", false));
        assert_eq!(
            m,
            "pods is forbidden: User \"x\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
        );
        let m =
            forbidden_message("x", &attributes(&http::Method::GET, "/apis/apps/v1/namespaces/d/deployments/w", false));
        assert_eq!(
            m,
            "deployments.apps \"w\" is forbidden: User \"x\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"d\""
        );
        let m = forbidden_message("x", &attributes(&http::Method::GET, "/metrics", false));
        assert_eq!(m, "forbidden: User \"x\" cannot get path \"/metrics\"");
    }

    #[test]
    fn bad_rule_files_are_rejected() {
        assert!(AuthzRules::parse("- verbs: [get]\n  resources: [pods]\n").is_err());
        assert!(AuthzRules::parse("- users: [a]\n  resources: [pods]\n").is_err());
        assert!(AuthzRules::parse("- users: [a]\n  verbs: [get]\n").is_err());
        assert!(AuthzRules::parse("- users: [a]\n  verbs: [get]\n  resource: [pods]\n").is_err());
        assert_eq!(AuthzRules::parse("").unwrap().rules.len(), 0);
    }
}
