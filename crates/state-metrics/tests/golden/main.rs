//! Golden tests of every built-in resource, in one test binary: each resource's table against
//! spec/families.tsv, its fixtures against their exact expected text, and the label order of
//! every golden sample against the spec.

#[path = "../common/mod.rs"]
mod common;

mod cronjob_schedule;
mod pod_cases;

macro_rules! golden {
    ($($module:ident :: $marker:ident),* $(,)?) => {
        $(
            mod $module {
                use state_metrics::resources::$module::$marker;

                #[test]
                fn table_matches_spec() {
                    crate::common::check_table::<$marker>();
                }

                #[test]
                fn golden() {
                    crate::common::check_resource::<$marker>();
                }

                #[test]
                fn golden_label_order() {
                    crate::common::check_golden_label_order::<$marker>();
                }
            }
        )*

        /// Every resource module with a golden directory is listed above.
        #[test]
        fn every_fixture_directory_is_tested() {
            let listed: Vec<&str> = vec![$(<state_metrics::resources::$module::$marker as state_metrics::resources::Resource>::NAME),*];
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
    certificatesigningrequest::CertificateSigningRequests,
    clusterrole::ClusterRoles,
    clusterrolebinding::ClusterRoleBindings,
    configmap::ConfigMaps,
    cronjob::CronJobs,
    daemonset::DaemonSets,
    deployment::Deployments,
    endpoint::EndpointsResource,
    endpointslice::EndpointSlices,
    horizontalpodautoscaler::HorizontalPodAutoscalers,
    ingress::Ingresses,
    ingressclass::IngressClasses,
    job::Jobs,
    lease::Leases,
    limitrange::LimitRanges,
    mutatingadmissionpolicy::MutatingAdmissionPolicies,
    mutatingadmissionpolicybinding::MutatingAdmissionPolicyBindings,
    mutatingwebhookconfiguration::MutatingWebhookConfigurations,
    namespace::Namespaces,
    networkpolicy::NetworkPolicies,
    node::Nodes,
    persistentvolume::PersistentVolumes,
    persistentvolumeclaim::PersistentVolumeClaims,
    pod::Pods,
    poddisruptionbudget::PodDisruptionBudgets,
    replicaset::ReplicaSets,
    replicationcontroller::ReplicationControllers,
    resourcequota::ResourceQuotas,
    role::Roles,
    rolebinding::RoleBindings,
    secret::Secrets,
    service::Services,
    serviceaccount::ServiceAccounts,
    statefulset::StatefulSets,
    storageclass::StorageClasses,
    validatingadmissionpolicy::ValidatingAdmissionPolicies,
    validatingadmissionpolicybinding::ValidatingAdmissionPolicyBindings,
    validatingwebhookconfiguration::ValidatingWebhookConfigurations,
    volumeattachment::VolumeAttachments,
);
