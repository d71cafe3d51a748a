//! Golden tests of every built-in resource, in one test binary: each resource's table against
//! spec/families.tsv, its fixtures against their exact expected text, and the label order of
//! every golden sample against the spec.

#[path = "../common/mod.rs"]
mod common;

mod pod_cases;

macro_rules! golden {
    ($($module:ident => $name:literal),* $(,)?) => {
        $(
            mod $module {
                #[test]
                fn table_matches_spec() {
                    crate::common::check_table($name);
                }

                #[test]
                fn golden() {
                    crate::common::check_resource($name);
                }

                #[test]
                fn golden_label_order() {
                    crate::common::check_golden_label_order($name);
                }
            }
        )*

        /// Every resource module with a golden directory is listed above, and so is every resource of
        /// the registry's list.
        #[test]
        fn every_fixture_directory_and_every_resource_is_tested() {
            let listed: Vec<&str> = vec![$($name),*];
            for name in state_metrics::registry::resource_names() {
                assert!(listed.contains(&name), "resource {name} has no golden tests here");
            }
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() && name != "custom" {
                    assert!(listed.contains(&name.as_str()), "fixtures/{name} has no golden test");
                }
            }
        }
    };
}

/// The registry's list of resources and the spec name the same resources; each has exactly the
/// spec's families with the spec's TYPE, stability, deprecation, opt-in and HELP (`check_table`, also
/// run per resource above); and the default set derived from the list is upstream's: the resources
/// the spec marks as printing samples in the default configuration (its `default` column).
#[test]
fn resource_list_matches_the_spec() {
    use std::collections::BTreeSet;
    let spec = common::spec_rows();
    let in_spec: BTreeSet<&str> = spec.iter().map(|r| r.resource.as_str()).collect();
    let listed: BTreeSet<&str> = state_metrics::registry::resource_names().collect();
    assert_eq!(listed, in_spec, "resources of the list (left) and of the spec (right)");
    let spec_default: BTreeSet<&str> = spec.iter().filter(|r| r.default_on).map(|r| r.resource.as_str()).collect();
    let default: BTreeSet<&str> = state_metrics::registry::default_resources().collect();
    assert_eq!(default, spec_default, "default set of the list (left) and of the spec (right)");
    for name in listed {
        common::check_table(name);
    }
}

golden!(
    certificatesigningrequest => "certificatesigningrequests",
    clusterrole => "clusterroles",
    clusterrolebinding => "clusterrolebindings",
    configmap => "configmaps",
    cronjob => "cronjobs",
    daemonset => "daemonsets",
    deployment => "deployments",
    endpoint => "endpoints",
    endpointslice => "endpointslices",
    horizontalpodautoscaler => "horizontalpodautoscalers",
    ingress => "ingresses",
    ingressclass => "ingressclasses",
    job => "jobs",
    lease => "leases",
    limitrange => "limitranges",
    mutatingadmissionpolicy => "mutatingadmissionpolicies",
    mutatingadmissionpolicybinding => "mutatingadmissionpolicybindings",
    mutatingwebhookconfiguration => "mutatingwebhookconfigurations",
    namespace => "namespaces",
    networkpolicy => "networkpolicies",
    node => "nodes",
    persistentvolume => "persistentvolumes",
    persistentvolumeclaim => "persistentvolumeclaims",
    pod => "pods",
    poddisruptionbudget => "poddisruptionbudgets",
    replicaset => "replicasets",
    replicationcontroller => "replicationcontrollers",
    resourcequota => "resourcequotas",
    role => "roles",
    rolebinding => "rolebindings",
    secret => "secrets",
    service => "services",
    serviceaccount => "serviceaccounts",
    statefulset => "statefulsets",
    storageclass => "storageclasses",
    validatingadmissionpolicy => "validatingadmissionpolicies",
    validatingadmissionpolicybinding => "validatingadmissionpolicybindings",
    validatingwebhookconfiguration => "validatingwebhookconfigurations",
    volumeattachment => "volumeattachments",
);
