//! Kubernetes selector strings, parsed and matched the way the API server does it.
//!
//! * [`Selector`]: the label-selector grammar of `?labelSelector=` and `--node-selector`
//!   (`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`), with key and
//!   value validation. Requirements are kept sorted by key, so two spellings of the same selector
//!   compare equal, and [`Selector`]'s `Display` writes a canonical form that parses back to it.
//! * [`FieldSelector`]: the `?fieldSelector=` grammar (`f=v`, `f==v`, `f!=v`, `\`-escapes in values).
//!   Which fields exist depends on the resource, so callers check [`FieldSelector::fields`].

mod field;
mod label;

pub use field::{FieldRequirement, FieldSelector};
pub use label::{Labels, Operator, Requirement, Selector};

/// Why a selector string was refused. The message is what the API server would answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The string does not follow the grammar.
    #[error("unable to parse requirement: {0}")]
    Syntax(String),
    /// A label key that is not a qualified name (`[prefix/]name`).
    #[error("unable to parse requirement: invalid label key \"{0}\"")]
    Key(String),
    /// A label value that is not a valid label value.
    #[error("unable to parse requirement: invalid label value: \"{0}\"")]
    Value(String),
    /// `>` / `<` need a 64-bit integer.
    #[error("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {0}")]
    NotInteger(String),
    /// A field selector term the field grammar does not accept.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldSyntax { selector: String, term: String },
    /// A field selector value with a bad `\` sequence or an unescaped `,` / `=`.
    #[error("invalid field selector value '{0}': bad escape, or unescaped ',' or '='")]
    FieldValue(String),
}
