//! `core/v1` types several resources share.

use crate::message;

message! {
    /// `ObjectReference`: what the families read of one (service account secrets, a volume's claim,
    /// an endpoint's target, a CronJob's active jobs).
    pub struct ObjectReference {
        omitempty 1 => kind: Option<String>,
        omitempty 2 => namespace: Option<String>,
        omitempty 3 => name: Option<String>,
    }
}
