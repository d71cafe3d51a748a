//! The types the message table is written in (`schema_gen.rs` is made of them; `schema` looks things
//! up in it).

/// Index of a message in the table.
pub type MsgId = u16;

/// What a field holds (a map's value, or the element of a repeated field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Double,
    Float,
    Message(MsgId),
}

/// How many values a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Single,
    Repeated,
    /// A map with keys of this kind (always `String` in Kubernetes); the field's `kind` is the value.
    Map(Kind),
}

/// The JSON form of a message whose Go type marshals itself rather than as an object of its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Object,
    /// `metav1.Time`: RFC 3339 text with whole seconds ↔ `{seconds, nanos}`.
    Time,
    /// `metav1.MicroTime`: RFC 3339 text with 6 fractional digits ↔ `{seconds, nanos}`.
    MicroTime,
    /// `metav1.Duration`: Go duration text (`1h2m3s`) ↔ `{duration}` in nanoseconds.
    Duration,
    /// `resource.Quantity`: its text ↔ `{string}`.
    Quantity,
    /// `intstr.IntOrString`: a JSON number or string ↔ `{type, intVal, strVal}`.
    IntOrString,
    /// `runtime.RawExtension`: embedded JSON ↔ `{raw}` holding that JSON (or a `k8s\0` envelope).
    RawExtension,
    /// `metav1.FieldsV1`: a JSON object ↔ `{Raw}` holding it as JSON text.
    FieldsV1,
    /// apiextensions `JSON`: any JSON value ↔ `{raw}` holding it as JSON text.
    RawJson,
    /// A list of strings wrapped in a message (`ExtraValue`): a JSON array ↔ `{items}`.
    StringList,
    /// `JSONSchemaPropsOrBool`: a schema object or a bool.
    SchemaOrBool,
    /// `JSONSchemaPropsOrArray`: a schema object or an array of schemas.
    SchemaOrArray,
    /// `JSONSchemaPropsOrStringArray`: a schema object or an array of strings.
    SchemaOrStringArray,
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    /// The field's name in the JSON encoding.
    pub json: &'static str,
    pub number: u32,
    pub kind: Kind,
    pub shape: Shape,
    /// An embedded Go struct marked `json:",inline"`: its fields sit in the parent's JSON object.
    pub inline: bool,
}

/// One message: fields in field-number order, the order Go writes them.
#[derive(Debug)]
pub struct MessageDef {
    /// Full protobuf name without the `k8s.io.` prefix, e.g. `api.core.v1.Pod`.
    pub name: &'static str,
    pub form: Form,
    pub fields: &'static [FieldDef],
}

pub(crate) const fn f(json: &'static str, number: u32, kind: Kind, shape: Shape) -> FieldDef {
    FieldDef { json, number, kind, shape, inline: false }
}

pub(crate) const fn i(json: &'static str, number: u32, kind: Kind, shape: Shape) -> FieldDef {
    FieldDef { json, number, kind, shape, inline: true }
}
