//! `core/v1` types several resources share.

use crate::message;
use crate::proj::Str;

message! {
    /// `ObjectReference`: what the families read of one (service account secrets, a volume's claim,
    /// an endpoint's target, a CronJob's active jobs).
    pub struct ObjectReference {
        omitempty 1 => kind: Option<Str>,
        omitempty 2 => namespace: Option<Str>,
        omitempty 3 => name: Option<Str>,
    }
}
