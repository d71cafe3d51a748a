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

        /// Every resource module with a golden directory is listed above.
        #[test]
        fn every_fixture_directory_is_tested() {
            let listed: Vec<&str> = vec![$($name),*];
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
