//! `certificatesigningrequests`: kube_certificatesigningrequest_* families (cluster-scoped, certificates/v1).

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct CertificateSigningRequests;

impl Resource for CertificateSigningRequests {
    type Obj = CertificateSigningRequest;
    const NAME: &'static str = "certificatesigningrequests";

    fn identity(o: &CertificateSigningRequest) -> Vec<(&'static str, String)> {
        vec![
            ("certificatesigningrequest", o.metadata.name.clone().unwrap_or_default()),
            ("signer_name", o.spec.signer_name.clone()),
        ]
    }

    fn families() -> &'static [Family<CertificateSigningRequest>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<CertificateSigningRequest>] = &[
    Family { name: "kube_certificatesigningrequest_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_certificatesigningrequest_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_certificatesigningrequest_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_certificatesigningrequest_condition", help: "The number of each certificatesigningrequest condition", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: condition },
    Family { name: "kube_certificatesigningrequest_cert_length", help: "Length of the issued cert", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: cert_length },
];

fn annotations(o: &CertificateSigningRequest, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &CertificateSigningRequest, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn created(o: &CertificateSigningRequest, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

/// Counts conditions by type (their status is not looked at), always writing all three series.
fn condition(o: &CertificateSigningRequest, _: &Ctx, s: &mut Samples<'_>) {
    let conditions = o.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default();
    for (label, type_) in [("approved", "Approved"), ("denied", "Denied"), ("failed", "Failed")] {
        let count = conditions.iter().filter(|c| c.type_ == type_).count();
        s.push(&[("condition", label)], count as f64);
    }
}

/// Length of the decoded certificate bytes; 0 until one is issued.
fn cert_length(o: &CertificateSigningRequest, _: &Ctx, s: &mut Samples<'_>) {
    let len = o.status.as_ref().and_then(|st| st.certificate.as_ref()).map_or(0, |c| c.0.len());
    s.push(&[], len as f64);
}
