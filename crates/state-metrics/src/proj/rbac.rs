//! `rbac.authorization.k8s.io/v1` types several resources share.

use crate::message;

message! {
    /// `RoleRef` of RoleBindings and ClusterRoleBindings.
    pub struct RoleRef {
        2 => kind: String,
        3 => name: String,
    }
}
