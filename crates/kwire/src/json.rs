//! JSON ↔ protobuf for every message of [`crate::schema`], with the Kubernetes special forms (times,
//! quantities, int-or-string, raw JSON, inlined structs, maps) translated as the API server does.
//!
//! Encoding writes fields in number order, as Go does. It does not reproduce Go's habit of writing
//! non-pointer fields that JSON left out (the schema cannot know which Go fields are pointers), so
//! the bytes differ from the server's where JSON omitted a zero value; the decoded values are equal.

use base64::Engine;
use serde_json::{Map, Number, Value};

use crate::schema::{self, FieldDef, Form, Kind, MessageDef, Shape};
use crate::{MAGIC, Reader, Value as Wire, WireError, Writer};
use gocompat::{format_duration, parse_duration_nanos, rfc3339};

/// Why a value could not be transcoded; `path` is where, as a JSON path (`items[3].spec.containers`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct Error {
    pub path: String,
    pub reason: String,
}

impl Error {
    fn at(path: &str, reason: impl Into<String>) -> Self {
        Error { path: if path.is_empty() { "$".to_string() } else { path.to_string() }, reason: reason.into() }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::at("", e.to_string())
    }
}

/// What to do with a JSON key or protobuf field the schema does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unknown {
    Fail,
    Skip,
}

fn lookup(message: &str) -> Result<&'static MessageDef, Error> {
    schema::message(message).ok_or_else(|| Error::at("", format!("no message {message} in the schema")))
}

/// The protobuf encoding of `json` as `message` (a full name such as `api.core.v1.Pod`). A JSON key
/// the schema does not know is an error, except `kind` and `apiVersion` of a message without such
/// fields: type meta, which protobuf carries in the envelope or not at all (embedded objects).
pub fn encode(message: &str, json: &Value) -> Result<Vec<u8>, Error> {
    Enc { unknown: Unknown::Fail }.top(lookup(message)?, json)
}

/// As [`encode`], dropping JSON keys the schema does not know (as the API server prunes them).
pub fn encode_lenient(message: &str, json: &Value) -> Result<Vec<u8>, Error> {
    Enc { unknown: Unknown::Skip }.top(lookup(message)?, json)
}

/// The JSON value of `bytes`, a `message`. A field number the schema does not know is an error.
pub fn decode(message: &str, bytes: &[u8]) -> Result<Value, Error> {
    Dec { unknown: Unknown::Fail }.message(lookup(message)?, bytes, "")
}

/// As [`decode`], skipping field numbers the schema does not know.
pub fn decode_lenient(message: &str, bytes: &[u8]) -> Result<Value, Error> {
    Dec { unknown: Unknown::Skip }.message(lookup(message)?, bytes, "")
}

/// A whole `k8s\0` body (object, list or Status) as JSON, with `kind` and `apiVersion` from its
/// envelope.
pub fn decode_body(body: &[u8]) -> Result<Value, Error> {
    Dec { unknown: Unknown::Fail }.body(body, "")
}

/// One watch frame's `WatchEvent` (without the length prefix) as the JSON watch event
/// `{"type": …, "object": {…}}`.
pub fn decode_watch_event(frame: &[u8]) -> Result<Value, Error> {
    let ev = crate::watch_event(frame)?;
    let object = Dec { unknown: Unknown::Fail }.body(ev.object, "object")?;
    let mut out = Map::new();
    out.insert("type".into(), Value::String(ev.kind.to_string()));
    out.insert("object".into(), object);
    Ok(Value::Object(out))
}

fn type_meta(json: &Value) -> Result<(&str, &str), Error> {
    let av = json.get("apiVersion").and_then(Value::as_str).ok_or_else(|| Error::at("apiVersion", "missing"))?;
    let kind = json.get("kind").and_then(Value::as_str).ok_or_else(|| Error::at("kind", "missing"))?;
    Ok((av, kind))
}

fn for_kind(api_version: &str, kind: &str) -> Result<&'static MessageDef, Error> {
    schema::for_kind(api_version, kind)
        .ok_or_else(|| Error::at("", format!("no protobuf message for {api_version} {kind} in the schema")))
}

/// A single object (its `kind` and `apiVersion` name its message) in its `k8s\0` envelope. Keys
/// the schema does not know are dropped, as the server would have pruned them.
pub fn object_body(json: &Value) -> Result<Vec<u8>, Error> {
    let (av, kind) = type_meta(json)?;
    let raw = Enc { unknown: Unknown::Skip }.top(for_kind(av, kind)?, json)?;
    Ok(crate::seal(av, kind, &raw))
}

/// A list body of `kind` objects (`api_version`, `"Pod"`: a `v1 PodList`) with `list_meta` (a JSON
/// ListMeta: resourceVersion, continue, remainingItemCount, shardInfo) written as the server does.
pub fn list_body(api_version: &str, kind: &str, items: &[Value], list_meta: &Value) -> Result<Vec<u8>, Error> {
    let list_kind = format!("{kind}List");
    for_kind(api_version, &list_kind)?;
    let item_msg = for_kind(api_version, kind)?;
    let enc = Enc { unknown: Unknown::Skip };
    let encoded = items
        .iter()
        .enumerate()
        .map(|(i, it)| enc.top(item_msg, it).map_err(|e| Error { path: format!("items[{i}].{}", e.path), ..e }))
        .collect::<Result<Vec<_>, _>>()?;
    let s = |k: &str| list_meta.get(k).and_then(Value::as_str).unwrap_or_default();
    let meta = crate::ListMeta {
        resource_version: s("resourceVersion"),
        continue_token: s("continue"),
        remaining_item_count: list_meta.get("remainingItemCount").and_then(Value::as_i64),
        shard_selector: list_meta.pointer("/shardInfo/selector").and_then(Value::as_str),
    };
    Ok(crate::list_body(api_version, &list_kind, &meta, encoded.iter().map(Vec::as_slice)))
}

/// One watch frame (length prefix included) of an event of type `event_type` about `object`.
pub fn watch_frame(event_type: &str, object: &Value) -> Result<Vec<u8>, Error> {
    Ok(crate::watch_frame(event_type, &object_body(object)?))
}

/// Where a value decoded from protobuf (`decoded`) differs from the same object's JSON (`json`), or
/// `None`. Go leaves zero values out of JSON (`omitempty`) where protobuf writes them, so null, empty
/// strings, zeros, false and empty containers count as absent on both sides; type meta (`kind`,
/// `apiVersion`) that only the JSON of an embedded object carries is not a difference either.
pub fn first_difference(decoded: &Value, json: &Value) -> Option<String> {
    difference(&without_zeros(decoded), &without_zeros(json), "$")
}

fn without_zeros(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), without_zeros(v))).filter(|(_, v)| !is_zero(v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(without_zeros).collect()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.as_i64().is_none() && n.as_u64().is_none() => number(f),
            _ => v.clone(),
        },
        _ => v.clone(),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let type_meta_only_in_json = |k: &str| {
                (k == "kind" || k == "apiVersion") && !x.contains_key("kind") && !x.contains_key("apiVersion")
            };
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => difference(u, v, &format!("{path}.{k}")),
                (None, Some(_)) if type_meta_only_in_json(k) => None,
                (u, v) => Some(format!("{path}.{k}: {} vs {}", show(u), show(v))),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (u, v))| difference(u, v, &format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {a} vs {b}")),
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "absent".to_string(), Value::to_string)
}

// ---------------------------------------------------------------------------------------------
// Encoding

struct Enc {
    unknown: Unknown,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl Enc {
    fn top(&self, m: &'static MessageDef, json: &Value) -> Result<Vec<u8>, Error> {
        let mut w = Writer::with_capacity(256);
        if m.form == Form::Object {
            let obj = json.as_object().ok_or_else(|| Error::at("", "want a JSON object"))?;
            let mut used = vec![false; obj.len()];
            self.object_fields(m, obj, &mut used, &mut w, "")?;
            self.check_unused(obj, &used, "")?;
        } else {
            self.special(m, json, &mut w, "")?;
        }
        Ok(w.into_bytes())
    }

    fn check_unused(&self, obj: &Map<String, Value>, used: &[bool], path: &str) -> Result<(), Error> {
        if self.unknown == Unknown::Skip {
            return Ok(());
        }
        for ((k, _), u) in obj.iter().zip(used) {
            if !*u && k != "kind" && k != "apiVersion" {
                return Err(Error::at(&join(path, k), "no such field in the schema"));
            }
        }
        Ok(())
    }

    /// The fields of `m` taken from `obj` (shared with inlined members), marking the keys used.
    fn object_fields(
        &self,
        m: &'static MessageDef,
        obj: &Map<String, Value>,
        used: &mut [bool],
        w: &mut Writer,
        path: &str,
    ) -> Result<(), Error> {
        for f in m.fields {
            if f.inline {
                let inner = f.kind.message().ok_or_else(|| Error::at(path, "inline field is not a message"))?;
                let mut sub = Writer::new();
                self.object_fields(inner, obj, used, &mut sub, path)?;
                w.message(f.number, sub.as_bytes());
                continue;
            }
            let Some(at) = obj.keys().position(|k| k == f.json) else { continue };
            used[at] = true;
            let v = &obj[f.json];
            let p = join(path, f.json);
            match f.shape {
                Shape::Single => self.single(f, v, w, &p)?,
                Shape::Repeated => match v {
                    Value::Null => {}
                    Value::Array(items) => {
                        for (i, it) in items.iter().enumerate() {
                            self.value(f.number, f.kind, it, w, &format!("{p}[{i}]"))?;
                        }
                    }
                    _ => return Err(Error::at(&p, "want an array")),
                },
                Shape::Map(key) => match v {
                    Value::Null => {}
                    Value::Object(entries) => {
                        for (k, val) in entries {
                            let mut e = Writer::with_capacity(k.len() + 16);
                            self.value(1, key, &Value::String(k.clone()), &mut e, &p)?;
                            self.value(2, f.kind, val, &mut e, &join(&p, k))?;
                            w.message(f.number, e.as_bytes());
                        }
                    }
                    _ => return Err(Error::at(&p, "want an object")),
                },
            }
        }
        Ok(())
    }

    fn single(&self, f: &FieldDef, v: &Value, w: &mut Writer, path: &str) -> Result<(), Error> {
        if v.is_null() {
            // A zero metav1.Time is `null` in JSON and an empty Timestamp in protobuf.
            if let Some(m) = f.kind.message().filter(|m| matches!(m.form, Form::Time | Form::MicroTime)) {
                let _ = m;
                w.empty(f.number);
            }
            return Ok(());
        }
        self.value(f.number, f.kind, v, w, path)
    }

    fn value(&self, number: u32, kind: Kind, v: &Value, w: &mut Writer, path: &str) -> Result<(), Error> {
        match kind {
            Kind::String => w.string(number, v.as_str().ok_or_else(|| Error::at(path, "want a string"))?),
            Kind::Bytes => {
                let s = v.as_str().ok_or_else(|| Error::at(path, "want a base64 string"))?;
                let b = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| Error::at(path, format!("bad base64: {e}")))?;
                w.bytes(number, &b);
            }
            Kind::Bool => w.bool(number, v.as_bool().ok_or_else(|| Error::at(path, "want a bool"))?),
            Kind::Int32 | Kind::Int64 => w.int64(number, int(v, path)?),
            Kind::Uint32 | Kind::Uint64 => w.varint(number, uint(v, path)?),
            Kind::Double => w.double(number, v.as_f64().ok_or_else(|| Error::at(path, "want a number"))?),
            Kind::Float => w.float(number, v.as_f64().ok_or_else(|| Error::at(path, "want a number"))? as f32),
            Kind::Message(_) => {
                let m = kind.message().ok_or_else(|| Error::at(path, "unknown message"))?;
                let mut sub = Writer::new();
                if m.form == Form::Object {
                    let obj = v.as_object().ok_or_else(|| Error::at(path, "want an object"))?;
                    let mut used = vec![false; obj.len()];
                    self.object_fields(m, obj, &mut used, &mut sub, path)?;
                    self.check_unused(obj, &used, path)?;
                } else {
                    self.special(m, v, &mut sub, path)?;
                }
                w.message(number, sub.as_bytes());
            }
        }
        Ok(())
    }

    /// The messages whose JSON is not an object of their fields.
    fn special(&self, m: &'static MessageDef, v: &Value, w: &mut Writer, path: &str) -> Result<(), Error> {
        let raw_json = |w: &mut Writer| {
            w.bytes(1, &serde_json::to_vec(v).unwrap_or_default());
        };
        match m.form {
            Form::Object => unreachable!("objects are encoded field by field"),
            Form::Time | Form::MicroTime => {
                if !v.is_null() {
                    let s = v.as_str().ok_or_else(|| Error::at(path, "want an RFC 3339 time"))?;
                    let (secs, nanos) = rfc3339::parse(s).ok_or_else(|| Error::at(path, format!("bad time {s:?}")))?;
                    let nanos = if m.form == Form::MicroTime { nanos / 1000 * 1000 } else { 0 };
                    w.int64(1, secs);
                    w.int64(2, i64::from(nanos));
                }
            }
            Form::Duration => {
                let s = v.as_str().ok_or_else(|| Error::at(path, "want a duration"))?;
                w.int64(1, parse_duration_nanos(s).map_err(|e| Error::at(path, e.to_string()))?);
            }
            Form::Quantity => match v {
                Value::String(s) => w.string(1, s),
                Value::Number(n) => w.string(1, &n.to_string()),
                _ => return Err(Error::at(path, "want a quantity")),
            },
            Form::IntOrString => match v {
                Value::String(s) => {
                    w.varint(1, 1);
                    w.int64(2, 0);
                    w.string(3, s);
                }
                Value::Number(_) => {
                    w.varint(1, 0);
                    w.int64(2, int(v, path)?);
                    w.empty(3);
                }
                _ => return Err(Error::at(path, "want an int or a string")),
            },
            Form::RawExtension | Form::FieldsV1 | Form::RawJson => raw_json(w),
            Form::StringList => {
                for (i, it) in v.as_array().ok_or_else(|| Error::at(path, "want an array"))?.iter().enumerate() {
                    w.string(1, it.as_str().ok_or_else(|| Error::at(&format!("{path}[{i}]"), "want a string"))?);
                }
            }
            Form::SchemaOrBool => match v {
                Value::Bool(b) => w.bool(1, *b),
                Value::Object(_) => {
                    w.bool(1, true);
                    self.value(2, m.fields[1].kind, v, w, path)?;
                }
                _ => return Err(Error::at(path, "want a schema or a bool")),
            },
            Form::SchemaOrArray | Form::SchemaOrStringArray => match v {
                Value::Object(_) => self.value(1, m.fields[0].kind, v, w, path)?,
                Value::Array(items) => {
                    for (i, it) in items.iter().enumerate() {
                        self.value(2, m.fields[1].kind, it, w, &format!("{path}[{i}]"))?;
                    }
                }
                _ => return Err(Error::at(path, "want a schema or an array")),
            },
        }
        Ok(())
    }
}

fn int(v: &Value, path: &str) -> Result<i64, Error> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| Error::at(path, format!("want an integer, got {n}"))),
        // int64 fields may be written as JSON strings.
        Value::String(s) => s.parse().map_err(|_| Error::at(path, format!("want an integer, got {s:?}"))),
        _ => Err(Error::at(path, "want an integer")),
    }
}

fn uint(v: &Value, path: &str) -> Result<u64, Error> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| Error::at(path, format!("want an unsigned integer, got {n}"))),
        Value::String(s) => s.parse().map_err(|_| Error::at(path, format!("want an unsigned integer, got {s:?}"))),
        _ => Err(Error::at(path, "want an unsigned integer")),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

struct Dec {
    unknown: Unknown,
}

impl Dec {
    fn body(&self, body: &[u8], path: &str) -> Result<Value, Error> {
        let env = crate::open(body).map_err(|e| Error::at(path, e.to_string()))?;
        let m = for_kind(env.api_version, env.kind).map_err(|e| Error { path: path.to_string(), ..e })?;
        let mut v = self.message(m, env.raw, path)?;
        if let Value::Object(o) = &mut v {
            o.insert("kind".into(), Value::String(env.kind.to_string()));
            o.insert("apiVersion".into(), Value::String(env.api_version.to_string()));
        }
        Ok(v)
    }

    fn message(&self, m: &'static MessageDef, bytes: &[u8], path: &str) -> Result<Value, Error> {
        if m.form != Form::Object {
            return self.special(m, bytes, path);
        }
        let mut out = Map::new();
        self.fields_into(m, bytes, &mut out, path)?;
        Ok(Value::Object(out))
    }

    fn fields_into(
        &self,
        m: &'static MessageDef,
        bytes: &[u8],
        out: &mut Map<String, Value>,
        path: &str,
    ) -> Result<(), Error> {
        let mut r = Reader::new(bytes);
        while let Some(fld) = r.next().map_err(|e| Error::at(path, e.to_string()))? {
            let Some(f) = m.field(fld.number) else {
                if self.unknown == Unknown::Fail {
                    return Err(Error::at(path, format!("{} has no field {}", m.name, fld.number)));
                }
                continue;
            };
            if f.inline {
                let inner = f.kind.message().ok_or_else(|| Error::at(path, "inline field is not a message"))?;
                self.fields_into(inner, wire_bytes(fld.value, path)?, out, path)?;
                continue;
            }
            let p = join(path, f.json);
            match f.shape {
                Shape::Single => {
                    let v = self.value(f.kind, fld.value, &p)?;
                    out.insert(f.json.to_string(), v);
                }
                Shape::Repeated => {
                    let arr = out.entry(f.json).or_insert_with(|| Value::Array(Vec::new()));
                    let Value::Array(arr) = arr else { return Err(Error::at(&p, "repeated field seen twice")) };
                    match (f.kind, fld.value) {
                        // Packed repeated scalars: a run of values in one length-delimited field.
                        (k, Wire::Bytes(b)) if is_packable(k) => unpack(k, b, arr, &p)?,
                        (k, v) => arr.push(self.value(k, v, &format!("{p}[{}]", arr.len()))?),
                    }
                }
                Shape::Map(key_kind) => {
                    let (k, v) = self.map_entry(key_kind, f.kind, wire_bytes(fld.value, &p)?, &p)?;
                    let obj = out.entry(f.json).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(o) = obj {
                        o.insert(k, v);
                    }
                }
            }
        }
        Ok(())
    }

    fn map_entry(&self, key: Kind, val: Kind, bytes: &[u8], path: &str) -> Result<(String, Value), Error> {
        let (mut k, mut v) = (None, None);
        let mut r = Reader::new(bytes);
        while let Some(fld) = r.next().map_err(|e| Error::at(path, e.to_string()))? {
            match fld.number {
                1 => k = Some(self.value(key, fld.value, path)?),
                2 => v = Some(fld.value),
                n => return Err(Error::at(path, format!("map entry has a field {n}"))),
            }
        }
        let k = match k {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let p = join(path, &k);
        let v = match v {
            Some(v) => self.value(val, v, &p)?,
            None => self.zero(val, &p)?,
        };
        Ok((k, v))
    }

    /// The JSON of a map value the entry left out (protobuf omits zero values there).
    fn zero(&self, kind: Kind, path: &str) -> Result<Value, Error> {
        Ok(match kind {
            Kind::String | Kind::Bytes => Value::String(String::new()),
            Kind::Bool => Value::Bool(false),
            Kind::Message(_) => self.value(kind, Wire::Bytes(&[]), path)?,
            _ => Value::Number(0.into()),
        })
    }

    fn value(&self, kind: Kind, v: Wire<'_>, path: &str) -> Result<Value, Error> {
        let want = |what: &str| Error::at(path, format!("want {what} on the wire, got {v:?}"));
        Ok(match (kind, v) {
            (Kind::String, Wire::Bytes(b)) => {
                Value::String(std::str::from_utf8(b).map_err(|_| Error::at(path, "string is not UTF-8"))?.to_string())
            }
            (Kind::Bytes, Wire::Bytes(b)) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            (Kind::Bool, Wire::Varint(n)) => Value::Bool(n != 0),
            (Kind::Int32, Wire::Varint(n)) => Value::Number(i64::from(n as i32).into()),
            (Kind::Int64, Wire::Varint(n)) => Value::Number((n as i64).into()),
            (Kind::Uint32, Wire::Varint(n)) => Value::Number((n & 0xffff_ffff).into()),
            (Kind::Uint64, Wire::Varint(n)) => Value::Number(n.into()),
            (Kind::Double, Wire::Fixed64(bits)) => number(f64::from_bits(bits)),
            (Kind::Float, Wire::Fixed32(bits)) => number(f64::from(f32::from_bits(bits))),
            (Kind::Message(_), Wire::Bytes(b)) => {
                let m = kind.message().ok_or_else(|| Error::at(path, "unknown message"))?;
                self.message(m, b, path)?
            }
            (Kind::String | Kind::Bytes | Kind::Message(_), _) => return Err(want("a length-delimited field")),
            (Kind::Double, _) => return Err(want("a fixed64")),
            (Kind::Float, _) => return Err(want("a fixed32")),
            _ => return Err(want("a varint")),
        })
    }

    fn special(&self, m: &'static MessageDef, bytes: &[u8], path: &str) -> Result<Value, Error> {
        let fields = raw_fields(bytes, path)?;
        let get = |n: u32| fields.iter().rev().find(|(num, _)| *num == n).map(|(_, v)| *v);
        let int_of = |n: u32| match get(n) {
            Some(Wire::Varint(v)) => v as i64,
            _ => 0,
        };
        let bytes_of = |n: u32| match get(n) {
            Some(Wire::Bytes(b)) => b,
            _ => &[][..],
        };
        let str_of = |n: u32| -> Result<String, Error> {
            std::str::from_utf8(bytes_of(n)).map(str::to_string).map_err(|_| Error::at(path, "string is not UTF-8"))
        };
        let json_of = |b: &[u8]| -> Result<Value, Error> {
            if b.is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_slice(b).map_err(|e| Error::at(path, format!("raw JSON: {e}")))
        };
        Ok(match m.form {
            Form::Object => unreachable!("objects are decoded field by field"),
            Form::Time | Form::MicroTime => {
                if bytes.is_empty() {
                    Value::Null
                } else {
                    let micro = m.form == Form::MicroTime;
                    Value::String(rfc3339::format(int_of(1), int_of(2) as i32, micro))
                }
            }
            Form::Duration => Value::String(format_duration(int_of(1))),
            Form::Quantity => {
                let s = str_of(1)?;
                Value::String(if s.is_empty() { "0".to_string() } else { s })
            }
            Form::IntOrString => {
                if int_of(1) == 1 {
                    Value::String(str_of(3)?)
                } else {
                    Value::Number((int_of(2) as i32).into())
                }
            }
            Form::RawExtension => {
                let raw = bytes_of(1);
                if raw.starts_with(MAGIC) { self.body(raw, path)? } else { json_of(raw)? }
            }
            Form::FieldsV1 | Form::RawJson => json_of(bytes_of(1))?,
            Form::StringList => {
                let mut items = Vec::new();
                for (n, v) in &fields {
                    if *n == 1 {
                        items.push(self.value(Kind::String, *v, path)?);
                    }
                }
                Value::Array(items)
            }
            Form::SchemaOrBool => match get(2) {
                Some(v) => self.value(m.fields[1].kind, v, path)?,
                None => Value::Bool(int_of(1) != 0),
            },
            Form::SchemaOrArray | Form::SchemaOrStringArray => match get(1) {
                Some(v) => self.value(m.fields[0].kind, v, path)?,
                None => {
                    let mut items = Vec::new();
                    for (n, v) in &fields {
                        if *n == 2 {
                            items.push(self.value(m.fields[1].kind, *v, path)?);
                        }
                    }
                    if items.is_empty() { Value::Null } else { Value::Array(items) }
                }
            },
        })
    }
}

fn raw_fields<'a>(bytes: &'a [u8], path: &str) -> Result<Vec<(u32, Wire<'a>)>, Error> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while let Some(f) = r.next().map_err(|e| Error::at(path, e.to_string()))? {
        out.push((f.number, f.value));
    }
    Ok(out)
}

fn wire_bytes<'a>(v: Wire<'a>, path: &str) -> Result<&'a [u8], Error> {
    match v {
        Wire::Bytes(b) => Ok(b),
        other => Err(Error::at(path, format!("want a length-delimited field, got {other:?}"))),
    }
}

fn is_packable(k: Kind) -> bool {
    !matches!(k, Kind::String | Kind::Bytes | Kind::Message(_))
}

fn unpack(kind: Kind, mut b: &[u8], out: &mut Vec<Value>, path: &str) -> Result<(), Error> {
    let dec = Dec { unknown: Unknown::Fail };
    while !b.is_empty() {
        let (v, used) = match kind {
            Kind::Double => {
                let w: [u8; 8] =
                    b.get(..8).and_then(|s| s.try_into().ok()).ok_or_else(|| Error::at(path, "truncated"))?;
                (Wire::Fixed64(u64::from_le_bytes(w)), 8)
            }
            Kind::Float => {
                let w: [u8; 4] =
                    b.get(..4).and_then(|s| s.try_into().ok()).ok_or_else(|| Error::at(path, "truncated"))?;
                (Wire::Fixed32(u32::from_le_bytes(w)), 4)
            }
            _ => {
                let (n, used) = crate::read_varint(b).ok_or_else(|| Error::at(path, "truncated"))?;
                (Wire::Varint(n), used)
            }
        };
        out.push(dec.value(kind, v, path)?);
        b = &b[used..];
    }
    Ok(())
}

/// A float as Go's encoding/json writes it: integral values without a fraction.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        Value::Number((f as i64).into())
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn special_forms_round_trip() {
        let pod = json!({
            "metadata": {"name": "p", "creationTimestamp": "2026-12-04T19:52:27Z", "labels": {"a": "1", "b": ""},
                         "managedFields": [{"manager": "m", "fieldsV1": {"f:metadata": {}}, "time": "2026-12-04T19:52:27Z"}]},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "250m"}},
                     "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10},
                     "ports": [{"containerPort": 80}],
                     "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]}],
                     "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}],
                     "activeDeadlineSeconds": "42"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null}]}
        });
        let pb = encode("api.core.v1.Pod", &pod).unwrap();
        let back = decode("api.core.v1.Pod", &pb).unwrap();
        let mut want = pod.clone();
        want["spec"]["activeDeadlineSeconds"] = json!(42);
        assert_eq!(back, want);

        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}]}});
        let back = decode("api.core.v1.Service", &encode("api.core.v1.Service", &svc).unwrap()).unwrap();
        assert_eq!(back, svc);

        let secret = json!({"data": {"k": "aGVsbG8="}, "type": "Opaque"});
        assert_eq!(decode("api.core.v1.Secret", &encode("api.core.v1.Secret", &secret).unwrap()).unwrap(), secret);

        let schema = json!({"openAPIV3Schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "default": 7}},
            "additionalProperties": false, "x-kubernetes-preserve-unknown-fields": true, "items": [{"type": "string"}]}});
        let name = "apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceValidation";
        assert_eq!(decode(name, &encode(name, &schema).unwrap()).unwrap(), schema);
    }

    #[test]
    fn differences_ignore_what_omitempty_and_type_meta_explain() {
        let pb = json!({"a": 0, "b": "", "c": [1, 2], "d": {"e": null, "f": false}, "g": {"x": 1}});
        assert_eq!(first_difference(&pb, &json!({"c": [1, 2], "g": {"x": 1.0}})), None);
        let emb = json!({"t": [{"metadata": {"name": "n"}}]});
        let with_tm = json!({"t": [{"kind": "PersistentVolumeClaim", "apiVersion": "v1", "metadata": {"name": "n"}}]});
        assert_eq!(first_difference(&emb, &with_tm), None);
        assert_eq!(first_difference(&json!({"c": [1]}), &json!({"c": [2]})).as_deref(), Some("$.c[0]: 1 vs 2"));
        assert_eq!(first_difference(&json!({"k": "v"}), &json!({})).as_deref(), Some("$.k: \"v\" vs absent"));
    }

    #[test]
    fn unknown_keys_and_fields_are_refused_unless_lenient() {
        let v = json!({"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "b"}, "bogus": 1});
        let e = encode("api.core.v1.ConfigMap", &v).unwrap_err();
        assert_eq!(e.path, "bogus");
        let pb = encode_lenient("api.core.v1.ConfigMap", &v).unwrap();
        assert_eq!(decode("api.core.v1.ConfigMap", &pb).unwrap(), json!({"data": {"a": "b"}}));
        let mut w = Writer::new();
        w.string(99, "x");
        assert!(decode("api.core.v1.ConfigMap", w.as_bytes()).is_err());
        assert_eq!(decode_lenient("api.core.v1.ConfigMap", w.as_bytes()).unwrap(), json!({}));
        assert!(encode("api.core.v1.Nope", &v).is_err());
        let wrong = json!({"data": {"a": 1}});
        assert_eq!(encode("api.core.v1.ConfigMap", &wrong).unwrap_err().path, "data.a");
    }
}
