//! `admissionregistration.k8s.io/v1` types several resources share.

use crate::message;
use crate::proj::Str;

message! {
    /// `ParamKind` of Validating- and MutatingAdmissionPolicy specs.
    pub struct ParamKind {
        omitempty 1 => api_version: Option<Str>,
        omitempty 2 => kind: Option<Str>,
    }
}

message! {
    /// `ParamRef` of Validating- and MutatingAdmissionPolicyBinding specs.
    pub struct ParamRef {
        omitempty 1 => name: Option<Str>,
        omitempty 2 => namespace: Option<Str>,
        4 => parameter_not_found_action: Option<Str>,
    }
}

message! {
    /// `MutatingWebhook` and `ValidatingWebhook`: what the families read of either (the two messages
    /// number these fields alike).
    pub struct Webhook {
        1 => name: Str,
        2 => client_config: WebhookClientConfig,
    }
}

message! {
    /// `WebhookClientConfig`.
    pub struct WebhookClientConfig {
        1 => service: Option<ServiceReference>,
    }
}

message! {
    /// `ServiceReference` of a webhook's client config.
    pub struct ServiceReference {
        1 => namespace: Str,
        2 => name: Str,
    }
}

/// The test encodings of the types above.
#[cfg(test)]
pub mod testing {
    use crate::proj::testing::pb;

    /// A webhook named `hook` calling service `ns/svc`, and its JSON.
    pub fn webhook() -> (Vec<u8>, &'static str) {
        let service = pb(|s| {
            s.string(1, "ns");
            s.string(2, "svc");
            s.string(3, "/hook");
            s.varint(4, 443);
        });
        let client = pb(|c| c.message(1, &service));
        let json = r#"{"name": "hook", "clientConfig": {"service": {"namespace": "ns", "name": "svc", "path": "/hook",
            "port": 443}}, "sideEffects": "None", "admissionReviewVersions": ["v1"]}"#;
        (
            pb(|w| {
                w.string(1, "hook");
                w.message(2, &client);
                w.string(6, "None");
                w.string(8, "v1");
            }),
            json,
        )
    }
}
