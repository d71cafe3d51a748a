//! `certificatesigningrequests`: kube_certificatesigningrequest_* families (cluster-scoped, certificates/v1).

use super::common::{annotations, created, labels};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{Bytes, ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `CertificateSigningRequest`: metadata, signer, condition types and the issued certificate.
    pub struct CertificateSigningRequest {
        1 => metadata: ObjectMeta,
        2 => spec: CertificateSigningRequestSpec,
        3 => status: Option<CertificateSigningRequestStatus>,
    }
}
object!(CertificateSigningRequest);

message! {
    pub struct CertificateSigningRequestSpec {
        7 => signer_name: Str,
    }
}

message! {
    pub struct CertificateSigningRequestStatus {
        1 => conditions: Option<Vec<CertificateSigningRequestCondition>>,
        2 => certificate: Option<Bytes>,
    }
}

message! {
    pub struct CertificateSigningRequestCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
    }
}

pub struct CertificateSigningRequests;

impl Resource for CertificateSigningRequests {
    type Obj = CertificateSigningRequest;
    type Api = k8s_openapi::api::certificates::v1::CertificateSigningRequest;
    const NAME: &'static str = "certificatesigningrequests";
    const IDENTITY: Identity<CertificateSigningRequest> =
        Identity::cluster("certificatesigningrequest").with(signer_name);

    fn families() -> &'static [Family<CertificateSigningRequest>] {
        FAMILIES
    }
}

fn signer_name(o: &CertificateSigningRequest) -> Vec<(&'static str, Str)> {
    vec![("signer_name", o.spec.signer_name.clone())]
}

#[rustfmt::skip]
static FAMILIES: &[Family<CertificateSigningRequest>] = &[
    Family::gauge("kube_certificatesigningrequest_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_certificatesigningrequest_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_certificatesigningrequest_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_certificatesigningrequest_condition", "The number of each certificatesigningrequest condition", Stable, condition),
    Family::gauge("kube_certificatesigningrequest_cert_length", "Length of the issued cert", Stable, cert_length),
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let spec = pb(|sp| {
            sp.bytes(1, b"CSR");
            sp.string(5, "client auth");
            sp.string(7, "kubernetes.io/kube-apiserver-client");
        });
        let approved = pb(|c| {
            c.string(1, "Approved");
            c.string(2, "AutoApproved");
            c.string(6, "True");
        });
        let status = pb(|st| {
            st.message(1, &approved);
            st.bytes(2, b"-----BEGIN CERTIFICATE-----");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"request": "Q1NS", "usages": ["client auth"],
                "signerName": "kubernetes.io/kube-apiserver-client"}}, "status": {{"conditions": [{{"type": "Approved",
                "reason": "AutoApproved", "status": "True"}}], "certificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"}}}}"#
        );
        let o: CertificateSigningRequest = same(&encoded, &json);
        assert_eq!(o.status.unwrap().certificate.unwrap().0.len(), 27);
    }
}
