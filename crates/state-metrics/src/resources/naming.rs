//! The Kubernetes naming rules several resources' families depend on: which resource names are
//! extended resources, and the unit label upstream gives each resource name of a pod's containers or a
//! node's capacity.

/// The `unit` label for a container resource name (requests, limits, overhead), or `None` for native
/// resources upstream does not report.
pub fn container_resource_unit(name: &str) -> Option<&'static str> {
    match name {
        "cpu" => Some("core"),
        "memory" | "storage" | "ephemeral-storage" => Some("byte"),
        _ if name.starts_with("hugepages-") || name.starts_with("attachable-volumes-") => Some("byte"),
        _ if is_extended_resource_name(name) => Some("integer"),
        _ => None,
    }
}

/// The `unit` label for a node capacity/allocatable resource name: as for containers, and `pods` is a
/// count.
pub fn node_resource_unit(name: &str) -> Option<&'static str> {
    if name == "pods" { Some("integer") } else { container_resource_unit(name) }
}

/// Kubernetes' rule for extended resources: a domain-prefixed name outside `kubernetes.io/`, not a quota
/// `requests.` name, and valid as a qualified name once prefixed with `requests.`.
pub fn is_extended_resource_name(name: &str) -> bool {
    if !name.contains('/') || name.contains("kubernetes.io/") || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}"))
}

/// `IsQualifiedName`: `[prefix/]name`, the prefix a DNS-1123 subdomain, the name at most 63 characters of
/// alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn is_qualified_name(value: &str) -> bool {
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, value),
    };
    if name.contains('/') {
        return false;
    }
    if let Some(p) = prefix
        && !is_dns1123_subdomain(p)
    {
        return false;
    }
    let bytes = name.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && bytes.len() <= 63
        && edge_ok(bytes[0])
        && edge_ok(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `IsDNS1123Subdomain`: dot-separated labels of lowercase alphanumerics and `-`, each starting and
/// ending alphanumeric, 253 characters at most.
pub fn is_dns1123_subdomain(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_resource_kind() {
        for unit in [container_resource_unit, node_resource_unit] {
            assert_eq!(unit("cpu"), Some("core"));
            assert_eq!(unit("ephemeral-storage"), Some("byte"));
            assert_eq!(unit("hugepages-1Gi"), Some("byte"));
            assert_eq!(unit("attachable-volumes-aws-ebs"), Some("byte"));
            assert_eq!(unit("nvidia.com/gpu"), Some("integer"));
            assert_eq!(unit("example.com/Fancy_Thing.v2"), Some("integer"));
            // Native-looking or invalid names are not reported.
            assert_eq!(unit("kubernetes.io/something"), None);
            assert_eq!(unit("requests.example.com/x"), None);
            assert_eq!(unit("example.com/-bad"), None);
            assert_eq!(unit("Example.com/x"), None);
            assert_eq!(unit("unknown"), None);
        }
        // Not a valid quota name: an empty name, two slashes.
        assert_eq!(container_resource_unit("example.com/"), None);
        assert_eq!(container_resource_unit("a/b/c"), None);
        assert_eq!(node_resource_unit("pods"), Some("integer"));
        assert_eq!(container_resource_unit("pods"), None);
    }

    #[test]
    fn qualified_names_and_subdomains() {
        assert!(is_qualified_name("requests.nvidia.com/gpu"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name(&"x".repeat(64)));
        assert!(is_dns1123_subdomain("a-b.c1"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain("A"));
        assert!(!is_dns1123_subdomain(""));
    }
}
