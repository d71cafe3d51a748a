//! `rbac.authorization.k8s.io/v1` types several resources share.

use crate::message;
use crate::proj::Str;

message! {
    /// `RoleRef` of RoleBindings and ClusterRoleBindings.
    pub struct RoleRef {
        2 => kind: Str,
        3 => name: Str,
    }
}
