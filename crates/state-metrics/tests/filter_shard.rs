use std::collections::BTreeMap;

use state_metrics::family::KeyAllow;
use state_metrics::filter::{
    ALLOWLIST_FORMAT_ERROR, FamilyFilter, FilterError, NamespaceScope, WILDCARD_ERROR, check_wildcards, field_selector,
    key_allow, merge_field_selectors, namespace_denylist_selector, namespace_scope, node_selector, parse_allowlist,
    resolve_allowlist, split_list, validate_node_sharding,
};
use state_metrics::shard::{auto_shard, fnv1a_64, jump_hash, owns, statefulset_ordinal};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

const NONE: &[&str] = &[];

// ---------- family filter ----------

#[test]
fn split_list_trims_and_drops_empty() {
    assert_eq!(split_list(&[" a , ,b", "", "c,"]), s(&["a", "b", "c"]));
}

#[test]
fn denylist_is_unanchored_search() {
    let f = FamilyFilter::new(NONE, &["kube_deployment_status_replicas"], NONE).unwrap();
    assert!(!f.keep("kube_deployment_status_replicas", false));
    assert!(!f.keep("kube_deployment_status_replicas_ready", false));
    assert!(f.keep("kube_pod_info", false));
}

#[test]
fn allowlist_keeps_only_matches_and_anchors_work() {
    let f = FamilyFilter::new(&["^kube_pod_info$, kube_node_"], NONE, NONE).unwrap();
    assert!(f.keep("kube_pod_info", false));
    assert!(!f.keep("kube_pod_info_extra", false));
    assert!(f.keep("kube_node_labels", false));
    assert!(!f.keep("kube_deployment_labels", false));
}

#[test]
fn empty_lists_keep_everything_but_opt_in() {
    let f = FamilyFilter::new(&[" , "], &[""], NONE).unwrap();
    assert!(f.keep("kube_pod_info", false));
    assert!(!f.keep("kube_pod_nodeselectors", true));
    let all = FamilyFilter::keep_all();
    assert!(all.keep("anything", false));
    assert!(!all.keep("kube_pod_nodeselectors", true));
}

#[test]
fn allow_and_deny_together_is_error() {
    let err = FamilyFilter::new(&["a"], &["b"], NONE).unwrap_err();
    assert_eq!(err, FilterError::AllowAndDeny);
    assert!(err.to_string().contains("mutually exclusive"));
}

#[test]
fn bad_regex_is_error_naming_it() {
    let err = FamilyFilter::new(&["kube_(pod"], NONE, NONE).unwrap_err();
    assert!(matches!(&err, FilterError::BadRegex { list: "metric allowlist", pattern, .. } if pattern == "kube_(pod"));
    assert!(err.to_string().contains("\"kube_(pod\""), "{err}");
    let err = FamilyFilter::new(NONE, &["x["], NONE).unwrap_err();
    assert!(err.to_string().contains("metric denylist"), "{err}");
    let err = FamilyFilter::new(NONE, NONE, &["(("]).unwrap_err();
    assert!(err.to_string().contains("metric opt-in list"), "{err}");
}

#[test]
fn lookaround_entries_work_via_fallback() {
    // Keep every pod family except the *_labels one: needs a negative look-ahead (ECMAScript upstream).
    let f = FamilyFilter::new(&["^kube_pod_(?!labels$)"], NONE, NONE).unwrap();
    assert!(f.keep("kube_pod_info", false));
    assert!(!f.keep("kube_pod_labels", false));
    assert!(f.keep("kube_pod_labels_x", false));
    let d = FamilyFilter::new(NONE, &["(?<=kube_)node"], NONE).unwrap();
    assert!(!d.keep("kube_node_info", false));
    assert!(d.keep("node_info", false));
}

#[test]
fn opt_in_families_need_a_matching_entry() {
    let f = FamilyFilter::new(NONE, NONE, &["kube_pod_nodeselectors"]).unwrap();
    assert!(f.keep("kube_pod_nodeselectors", true));
    assert!(!f.keep("kube_persistentvolume_csi_attributes", true));
    // Opt-in AND allow/deny.
    let g = FamilyFilter::new(NONE, &["nodeselectors"], &["kube_pod_nodeselectors"]).unwrap();
    assert!(!g.keep("kube_pod_nodeselectors", true));
}

// ---------- label / annotation allowlists ----------

fn map(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    entries.iter().map(|(k, v)| (k.to_string(), s(v))).collect()
}

#[test]
fn parse_allowlist_valid_forms() {
    assert_eq!(
        parse_allowlist("pods=[app, team],nodes=[],*=[*]").unwrap(),
        map(&[("pods", &["app", "team"]), ("nodes", &[]), ("*", &["*"])])
    );
    assert_eq!(
        parse_allowlist("pods=[ a ], deployments=[b]").unwrap(),
        map(&[("pods", &["a"]), ("deployments", &["b"])])
    );
    assert_eq!(parse_allowlist("").unwrap(), BTreeMap::new());
    assert_eq!(parse_allowlist("pods=[app.kubernetes.io/*]").unwrap(), map(&[("pods", &["app.kubernetes.io/*"])]));
}

#[test]
fn parse_allowlist_format_errors() {
    for bad in [
        "pods[a]",       // `[` not after `=`
        "pods=a",        // `=` not followed by `[`
        "pods=[a]x",     // `]` followed by something other than `,`
        ",pods=[a]",     // leading comma
        "pods=[a],",     // trailing comma
        "pods=[a,,b]",   // double comma
        "pods=[a,]",     // comma before `]`
        "pods=[a],=[b]", // `=` preceded by `,`
        "pods=[a=[b]]",
        "pods = [a]", // `=` must be immediately followed by `[`, spaces included
    ] {
        let err = parse_allowlist(bad).unwrap_err();
        assert_eq!(err, FilterError::AllowlistFormat, "{bad}");
        assert_eq!(err.to_string(), "invalid format, metric=[label1,label2,labeln...],metricN=[]", "{bad}");
    }
    assert_eq!(ALLOWLIST_FORMAT_ERROR, "invalid format, metric=[label1,label2,labeln...],metricN=[]");
}

#[test]
fn parse_allowlist_never_panics_and_entries_are_clean() {
    // Every string up to length 6 over the syntax alphabet: accepted values never leak a syntax
    // character into a resource name or key.
    let alphabet = ['a', '=', '[', ']', ',', ' ', '*'];
    let mut accepted = 0usize;
    let mut current: Vec<usize> = Vec::new();
    loop {
        let input: String = current.iter().map(|&i| alphabet[i]).collect();
        if let Ok(m) = parse_allowlist(&input) {
            accepted += 1;
            for (res, keys) in &m {
                for text in std::iter::once(res).chain(keys) {
                    assert!(!text.contains([',', '[', ']', '=']), "{input:?} -> {m:?}");
                    assert_eq!(text.trim(), text, "{input:?} -> {m:?}");
                }
            }
        }
        // Odometer increment; grow the length when every position wrapped.
        let mut pos = 0;
        loop {
            if pos == current.len() {
                current.push(0);
                break;
            }
            current[pos] += 1;
            if current[pos] < alphabet.len() {
                break;
            }
            current[pos] = 0;
            pos += 1;
        }
        if current.len() > 6 {
            break;
        }
    }
    assert!(accepted > 1000, "only {accepted} inputs accepted");
}

#[test]
fn one_wildcard_per_key() {
    let err = parse_allowlist("pods=[a*b*]").unwrap_err();
    assert_eq!(err.to_string(), "only one wildcard per label allowed");
    assert_eq!(err.to_string(), WILDCARD_ERROR);
    assert_eq!(check_wildcards(&map(&[("pods", &["**"])])), Err(FilterError::Wildcard));
    // Same rule for the --config map form, which goes straight to resolution.
    assert_eq!(
        resolve_allowlist(&map(&[("pods", &["x*y*z"])]), &["pods"], &["pods"]).unwrap_err(),
        FilterError::Wildcard
    );
}

#[test]
fn resolve_unknown_resource_is_error() {
    let err = resolve_allowlist(&map(&[("podz", &["a"])]), &["pods"], &["nodes", "pods"]).unwrap_err();
    assert_eq!(err.to_string(), "resource podz does not exist. Available resources: nodes,pods");
}

#[test]
fn resolve_star_key_takes_precedence() {
    let m = map(&[("*", &["team"]), ("pods", &["*"])]);
    let r = resolve_allowlist(&m, &["pods", "nodes"], &["pods", "nodes", "secrets"]).unwrap();
    assert_eq!(r.len(), 2);
    for res in ["pods", "nodes"] {
        assert!(r[res].allows("team"), "{res}");
        assert!(!r[res].allows("app"), "{res}");
    }
}

#[test]
fn resolve_per_resource_and_missing_is_nothing() {
    let m = map(&[("pods", &["*"]), ("nodes", &["kubernetes.io/*", "zone"]), ("secrets", &[])]);
    let r = resolve_allowlist(&m, &["pods", "nodes", "secrets", "services"], &["pods", "nodes", "secrets", "services"])
        .unwrap();
    assert!(matches!(r["pods"], KeyAllow::All));
    assert!(r["nodes"].allows("kubernetes.io/hostname"));
    assert!(r["nodes"].allows("zone"));
    assert!(!r["nodes"].allows("zone2"));
    assert!(!r["nodes"].allows("x.kubernetes.io/os"));
    assert!(r["secrets"].is_nothing());
    assert!(r["services"].is_nothing());
    // Entries for known but not enabled resources produce nothing.
    assert!(!r.contains_key("deployments"));
}

#[test]
fn key_allow_patterns_are_anchored_and_quoted() {
    let k = key_allow(&s(&["app", "*", "a.b*", "*-suffix", "pre*post"]));
    // The bare `*` not in first position is ignored.
    assert!(!k.allows("unrelated"));
    assert!(k.allows("app"));
    assert!(k.allows("a.b"));
    assert!(k.allows("a.bcd"));
    assert!(!k.allows("aXbcd"), "`.` must be literal");
    assert!(!k.allows("xa.b"), "must be anchored at the start");
    assert!(k.allows("x-suffix"));
    assert!(!k.allows("x-suffix2"), "must be anchored at the end");
    assert!(k.allows("prepost"));
    assert!(k.allows("pre-mid-post"));
    assert!(matches!(key_allow(&s(&["*", "app"])), KeyAllow::All));
    assert!(key_allow(&[]).is_nothing());
}

#[test]
fn config_yaml_form_resolves_the_same() {
    let yaml = "pods: [app, 'team*']\n'*': []\n";
    let m: BTreeMap<String, Vec<String>> = serde_saphyr::from_str(yaml).unwrap();
    let r = resolve_allowlist(&m, &["pods"], &["pods"]).unwrap();
    // `*` with an empty list wins: nothing for every resource.
    assert!(r["pods"].is_nothing());
    let m: BTreeMap<String, Vec<String>> = serde_saphyr::from_str("pods: [app, 'team*']\n").unwrap();
    let r = resolve_allowlist(&m, &["pods"], &["pods"]).unwrap();
    assert!(r["pods"].allows("app") && r["pods"].allows("team-a") && !r["pods"].allows("apps"));
}

// ---------- namespaces and field selectors ----------

#[test]
fn namespace_scope_all_and_list() {
    assert_eq!(namespace_scope(NONE), NamespaceScope::All);
    assert_eq!(namespace_scope(&[""]), NamespaceScope::All);
    assert_eq!(namespace_scope(&[" , "]), NamespaceScope::All);
    assert_eq!(namespace_scope(&["a, b", "a", "c"]), NamespaceScope::Only(s(&["a", "b", "c"])));
}

#[test]
fn denylist_and_node_selectors() {
    assert_eq!(namespace_denylist_selector(&["a,b"]), "metadata.namespace!=a,metadata.namespace!=b");
    assert_eq!(namespace_denylist_selector(NONE), "");
    assert_eq!(node_selector("", false), "");
    assert_eq!(node_selector("node-1", false), "spec.nodeName=node-1");
    assert_eq!(node_selector("node-1", true), "spec.nodeName=");
    assert_eq!(node_selector("", true), "spec.nodeName=");
    assert_eq!(
        field_selector(&["a", "b"], "n1", false),
        "metadata.namespace!=a,metadata.namespace!=b,spec.nodeName=n1"
    );
    assert_eq!(field_selector(&["kube-system"], "n1", true), "metadata.namespace!=kube-system,spec.nodeName=");
    assert_eq!(field_selector(NONE, "n1", false), "spec.nodeName=n1");
    assert_eq!(field_selector(NONE, "", false), "");
    assert_eq!(merge_field_selectors(&["", "x=y", ""]), "x=y");
    // Selector syntax characters in values are escaped.
    assert_eq!(node_selector("a=b", false), "spec.nodeName=a\\=b");
}

#[test]
fn node_sharding_allows_only_pods() {
    assert!(validate_node_sharding("", false, &["pods", "nodes"]).is_ok());
    assert!(validate_node_sharding("n1", false, &["pods"]).is_ok());
    let err = validate_node_sharding("n1", false, &["pods", "nodes"]).unwrap_err();
    assert_eq!(err, FilterError::NodeShardingResource("nodes".into()));
    assert!(err.to_string().contains("spec.nodeName"));
    assert!(validate_node_sharding("", true, &["deployments"]).is_err());
}

// ---------- sharding ----------

#[test]
fn fnv1a_64_known_vectors() {
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn jump_hash_matches_go_jump_reference() {
    // dgryski/go-jump jump_test.go (generated from the reference C++ code); index i is buckets i+1.
    let table: &[(u64, &[i32])] = &[
        (0, &[0; 20]),
        (1, &[0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17]),
        (0xdead_beef, &[0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16]),
        (0x0ddc_0ffe_ebad_f00d, &[0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15]),
    ];
    for (key, buckets) in table {
        for (i, want) in buckets.iter().enumerate() {
            let n = i32::try_from(i + 1).unwrap();
            assert_eq!(jump_hash(*key, n), *want, "key {key:#x} buckets {n}");
        }
    }
    assert_eq!(jump_hash(12345, 0), -1);
    assert_eq!(jump_hash(12345, -3), -1);
}

#[test]
fn jump_hash_is_monotone_consistent() {
    // Growing the bucket count only ever moves a key to the new bucket.
    for key in (0..2000u64).map(|k| fnv1a_64(&k.to_le_bytes())) {
        let mut prev = jump_hash(key, 1);
        for n in 2..40 {
            let cur = jump_hash(key, n);
            assert!(cur == prev || cur == n - 1, "key {key} n {n}");
            prev = cur;
        }
    }
}

fn fake_uid(i: u64) -> String {
    // Deterministic UUID-shaped strings from a splitmix64 stream.
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xffff,
        b & 0xffff_ffff_ffff
    )
}

#[test]
fn shards_partition_uids_evenly() {
    const N: usize = 10_000;
    const SHARDS: u32 = 5;
    let mut counts = [0usize; SHARDS as usize];
    for i in 0..N as u64 {
        let uid = fake_uid(i);
        let owners: Vec<u32> = (0..SHARDS).filter(|&sh| owns(&uid, sh, SHARDS)).collect();
        assert_eq!(owners.len(), 1, "{uid} owned by {owners:?}");
        counts[owners[0] as usize] += 1;
    }
    let mean = N as f64 / f64::from(SHARDS);
    for (sh, c) in counts.iter().enumerate() {
        let dev = (*c as f64 - mean).abs() / mean;
        assert!(dev <= 0.15, "shard {sh} has {c} of {N} ({counts:?})");
    }
}

#[test]
fn single_shard_owns_everything() {
    assert!(owns("anything", 0, 1));
    assert!(owns("anything", 7, 0));
    let uid = "5f2b8a3e-0000-4000-8000-000000000001";
    assert_eq!(owns(uid, 0, 2), jump_hash(fnv1a_64(uid.as_bytes()), 2) == 0);
    assert_ne!(owns(uid, 0, 2), owns(uid, 1, 2));
}

// ---------- auto-sharding ----------

#[test]
fn statefulset_ordinals() {
    assert_eq!(statefulset_ordinal("ksm-0", "ksm"), Some(0));
    assert_eq!(statefulset_ordinal("ksm-12", "ksm"), Some(12));
    assert_eq!(statefulset_ordinal("kube-state-metrics-3", "kube-state-metrics"), Some(3));
    assert_eq!(statefulset_ordinal("ksm-a-1", "ksm"), None);
    assert_eq!(statefulset_ordinal("ksm-", "ksm"), None);
    assert_eq!(statefulset_ordinal("ksm1", "ksm"), None);
    assert_eq!(statefulset_ordinal("other-1", "ksm"), None);
    assert_eq!(statefulset_ordinal("ksm-+1", "ksm"), None);
    assert_eq!(statefulset_ordinal("ksm--1", "ksm"), None);
    assert_eq!(statefulset_ordinal("ksm-99999999999", "ksm"), None);
}

#[test]
fn auto_shard_uses_replicas_default_one() {
    assert_eq!(auto_shard("ksm-2", "ksm", Some(3)), Some((2, 3)));
    assert_eq!(auto_shard("ksm-0", "ksm", None), Some((0, 1)));
    assert_eq!(auto_shard("ksm-0", "ksm", Some(-1)), None);
    assert_eq!(auto_shard("x-0", "ksm", Some(3)), None);
}
