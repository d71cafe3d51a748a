//! JSON on the wire: lists cut into their objects as the bytes arrive, and watch events one per line.
//!
//! A list of 10,000 pods is ~85 MB of JSON in one response when the watch cache serves it. Decoding it
//! whole would hold the text and every decoded object at once; [`ListSplitter`] instead hands each item
//! over as soon as its last byte has arrived, holding at most one object's text, so objects are rendered
//! (and their decoded form freed) while the rest is still on the wire.

use std::borrow::Cow;

use memchr::memchr2;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A piece of a list response.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The list's `metadata` object (resourceVersion, continue).
    Metadata(&'a [u8]),
    /// One element of `items`.
    Item(&'a [u8]),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("not a JSON list: unexpected {found:?} at byte {at}")]
    Unexpected { found: char, at: usize },
    #[error("the list ended before its end")]
    Truncated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Before the top-level `{`.
    Start,
    /// Expecting a key or `}`.
    KeyOrEnd,
    /// Inside a top-level key.
    Key {
        escape: bool,
    },
    Colon,
    /// Before a top-level value.
    Value,
    /// Inside a top-level value (captured for `metadata`, skipped otherwise).
    InValue,
    /// After a top-level value: `,` or `}`.
    AfterValue,
    /// Expecting an item or `]`.
    ItemOrEnd,
    InItem,
    /// After an item: `,` or `]`.
    AfterItem,
    Done,
}

/// Scans one JSON value across chunks.
#[derive(Default)]
struct ValueScan {
    kind: u8,
    depth: u32,
    in_string: bool,
    escape: bool,
}

const UNKNOWN: u8 = 0;
const STRING: u8 = 1;
const COMPOUND: u8 = 2;
const LITERAL: u8 = 3;

impl ValueScan {
    /// Scans `data`; returns `Some(n)` when the value ends after `data[..n]`.
    fn scan(&mut self, data: &[u8]) -> Option<usize> {
        let mut i = 0;
        if self.kind == UNKNOWN {
            match data.first() {
                None => return None,
                Some(b'"') => {
                    self.kind = STRING;
                    self.in_string = true;
                }
                Some(b'{' | b'[') => {
                    self.kind = COMPOUND;
                    self.depth = 1;
                }
                Some(_) => self.kind = LITERAL,
            }
            i = 1;
        }
        if self.kind == LITERAL {
            return data[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                .map(|p| i + p);
        }
        while i < data.len() {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    i += 1;
                    continue;
                }
                match memchr2(b'"', b'\\', &data[i..]) {
                    None => return None,
                    Some(p) => {
                        i += p;
                        if data[i] == b'\\' {
                            self.escape = true;
                        } else {
                            self.in_string = false;
                            if self.kind == STRING {
                                return Some(i + 1);
                            }
                        }
                        i += 1;
                    }
                }
                continue;
            }
            match data[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// Cuts a JSON list (`{"kind":…,"metadata":{…},"items":[{…},…]}`, keys in any order) into its metadata and
/// items, chunk by chunk.
pub struct ListSplitter {
    st: St,
    key: Vec<u8>,
    /// The key of the value being read is `items` / `metadata`.
    value_is_items: bool,
    value_is_metadata: bool,
    scan: ValueScan,
    /// The text of the value being captured, when it spans chunks.
    buf: Vec<u8>,
    /// Bytes fed so far (for error positions).
    offset: usize,
}

impl Default for ListSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListSplitter {
    pub fn new() -> Self {
        ListSplitter {
            st: St::Start,
            key: Vec::new(),
            value_is_items: false,
            value_is_metadata: false,
            scan: ValueScan::default(),
            buf: Vec::new(),
            offset: 0,
        }
    }

    /// Feeds the next bytes of the body; `each` receives every piece completed by them.
    pub fn feed<E>(&mut self, data: &[u8], mut each: impl FnMut(Piece<'_>) -> Result<(), E>) -> Result<(), Fed<E>> {
        let mut i = 0;
        let unexpected = |i: usize, this: &Self| {
            Fed::Split(SplitError::Unexpected { found: char::from(data[i]), at: this.offset + i })
        };
        while i < data.len() {
            let b = data[i];
            match self.st {
                St::InValue | St::InItem => {
                    let start = i;
                    match self.scan.scan(&data[i..]) {
                        None => {
                            if self.st == St::InItem || self.value_is_metadata {
                                self.buf.extend_from_slice(&data[start..]);
                            }
                            i = data.len();
                        }
                        Some(n) => {
                            let end = start + n;
                            let capture = self.st == St::InItem || self.value_is_metadata;
                            if capture {
                                let text: &[u8] = if self.buf.is_empty() {
                                    &data[start..end]
                                } else {
                                    self.buf.extend_from_slice(&data[start..end]);
                                    &self.buf
                                };
                                let piece =
                                    if self.st == St::InItem { Piece::Item(text) } else { Piece::Metadata(text) };
                                each(piece).map_err(Fed::Each)?;
                                self.buf.clear();
                            }
                            self.scan = ValueScan::default();
                            self.st = if self.st == St::InItem { St::AfterItem } else { St::AfterValue };
                            i = end;
                        }
                    }
                    continue;
                }
                St::Key { escape } => {
                    if escape {
                        self.key.push(b);
                        self.st = St::Key { escape: false };
                    } else if b == b'\\' {
                        self.key.push(b);
                        self.st = St::Key { escape: true };
                    } else if b == b'"' {
                        self.st = St::Colon;
                    } else {
                        self.key.push(b);
                    }
                    i += 1;
                    continue;
                }
                _ => {}
            }
            if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
                continue;
            }
            match (self.st, b) {
                (St::Start, b'{') => self.st = St::KeyOrEnd,
                (St::KeyOrEnd, b'"') => {
                    self.key.clear();
                    self.st = St::Key { escape: false };
                }
                (St::KeyOrEnd | St::AfterValue, b'}') => self.st = St::Done,
                (St::AfterValue, b',') => self.st = St::KeyOrEnd,
                (St::Colon, b':') => {
                    self.value_is_items = self.key == b"items";
                    self.value_is_metadata = self.key == b"metadata";
                    self.st = St::Value;
                }
                (St::Value, b'[') if self.value_is_items => self.st = St::ItemOrEnd,
                (St::Value, b'n') if self.value_is_items => {
                    // "items": null — an empty list.
                    self.value_is_items = false;
                    self.st = St::InValue;
                    continue;
                }
                (St::Value, _) => {
                    self.st = St::InValue;
                    continue;
                }
                (St::ItemOrEnd, b']') | (St::AfterItem, b']') => self.st = St::AfterValue,
                (St::AfterItem, b',') => self.st = St::ItemOrEnd,
                (St::ItemOrEnd, _) => {
                    self.st = St::InItem;
                    continue;
                }
                _ => return Err(unexpected(i, self)),
            }
            i += 1;
        }
        self.offset += data.len();
        Ok(())
    }

    /// The body is over: was the list complete?
    pub fn finish(&self) -> Result<(), SplitError> {
        if self.st == St::Done { Ok(()) } else { Err(SplitError::Truncated) }
    }
}

/// The error of [`ListSplitter::feed`]: the body is not a list, or the callback failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Fed<E> {
    Split(SplitError),
    Each(E),
}

/// A list's `metadata`.
#[derive(Deserialize, Default, Debug, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ListMeta {
    pub resource_version: String,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    /// Present when the server honoured a `shardSelector` (KEP-5866): the selector, echoed as sent.
    pub shard_info: Option<ShardInfo>,
}

/// A list's `metadata.shardInfo`.
#[derive(Deserialize, Default, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct ShardInfo {
    pub selector: String,
}

impl ListMeta {
    /// The shard selector the server says it applied.
    pub fn shard_selector(&self) -> Option<&str> {
        self.shard_info.as_ref().map(|s| s.selector.as_str())
    }
}

/// One line of a JSON watch stream.
#[derive(Deserialize)]
pub struct WatchLine<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow)]
    pub object: &'a RawValue,
}

/// The object of a BOOKMARK event: only its metadata matters.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct BookmarkObject {
    pub metadata: BookmarkMeta,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct BookmarkMeta {
    pub resource_version: String,
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl BookmarkObject {
    /// Carries the `k8s.io/initial-events-end: "true"` annotation that ends a streaming list's initial state.
    pub fn initial_events_end(&self) -> bool {
        self.metadata.annotations.get("k8s.io/initial-events-end").is_some_and(|v| v == "true")
    }
}

/// Splits newline-delimited watch events across chunks.
#[derive(Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; `each` receives every complete non-empty line (without its newline).
    pub fn feed<E>(&mut self, mut data: &[u8], mut each: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        while let Some(p) = memchr::memchr(b'\n', data) {
            let line = &data[..p];
            if self.buf.is_empty() {
                if !line.is_empty() {
                    each(line)?;
                }
            } else {
                self.buf.extend_from_slice(line);
                let full = std::mem::take(&mut self.buf);
                each(&full)?;
                self.buf = full;
                self.buf.clear();
            }
            data = &data[p + 1..];
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// What is left when the body ends (a final line without a newline).
    pub fn rest(&self) -> Option<&[u8]> {
        let t = self.buf.trim_ascii();
        (!t.is_empty()).then_some(t)
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &[u8], chunk: usize) -> Result<Vec<String>, SplitError> {
        let mut s = ListSplitter::new();
        let mut out = Vec::new();
        for c in body.chunks(chunk.max(1)) {
            s.feed(c, |p| -> Result<(), ()> {
                out.push(match p {
                    Piece::Metadata(m) => format!("M{}", String::from_utf8_lossy(m)),
                    Piece::Item(t) => format!("I{}", String::from_utf8_lossy(t)),
                });
                Ok(())
            })
            .map_err(|e| match e {
                Fed::Split(e) => e,
                Fed::Each(()) => unreachable!("the callback never fails"),
            })?;
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn lists_split_into_metadata_and_items_at_any_chunking() {
        let body = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"x\"}"},"items":[{"metadata":{"name":"a"},"s":"}]{[\\"},{"metadata":{"name":"b"},"n":[1,{"x":null}],"t":true}]}"#;
        let want = vec![
            r#"M{"resourceVersion":"7","continue":"x\"}"}"#.to_owned(),
            r#"I{"metadata":{"name":"a"},"s":"}]{[\\"}"#.to_owned(),
            r#"I{"metadata":{"name":"b"},"n":[1,{"x":null}],"t":true}"#.to_owned(),
        ];
        for chunk in [1, 2, 3, 5, 7, 64, 10_000] {
            assert_eq!(split(body, chunk).unwrap(), want, "chunk {chunk}");
        }
    }

    #[test]
    fn a_sharded_list_carries_the_selector_it_was_asked_for() {
        let meta = |path: &str| -> ListMeta {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            let body = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let pieces = split(&body, 4096).unwrap();
            serde_json::from_str(pieces[0].strip_prefix('M').unwrap()).unwrap()
        };
        let m = meta("../kwire/tests/wire/pods.list-shard0.json");
        assert_eq!(
            m.shard_selector(),
            Some("shardRange(object.metadata.uid, '0x0000000000000000', '0x8000000000000000')")
        );
        assert_eq!(m.resource_version, "405");
        // A server without the feature gate ignores the selector: no shardInfo.
        assert_eq!(meta("../kube-sim/tests/wire/shard/pods.list-shard0-gate-off.json").shard_selector(), None);
        assert_eq!(meta("../kwire/tests/wire/pods.list.json").shard_selector(), None);
    }

    #[test]
    fn key_order_whitespace_and_empty_lists() {
        let body = b"{ \"items\" : [ ] , \"metadata\" : { \"resourceVersion\" : \"1\" } , \"kind\" : \"List\" }\n";
        assert_eq!(split(body, 4).unwrap(), vec!["M{ \"resourceVersion\" : \"1\" }".to_owned()]);
        assert_eq!(split(br#"{"metadata":{},"items":null}"#, 3).unwrap(), vec!["M{}".to_owned()]);
        assert_eq!(split(br#"{"kind":"X","n":12,"b":false,"items":[]}"#, 1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn truncated_and_foreign_bodies_are_errors() {
        assert_eq!(split(br#"{"metadata":{},"items":[{"a":1}"#, 5), Err(SplitError::Truncated));
        assert!(matches!(split(b"[1,2]", 5), Err(SplitError::Unexpected { found: '[', at: 0 })));
        assert!(matches!(split(br#"{"items":[1 2]}"#, 50), Err(SplitError::Unexpected { .. })));
    }

    #[test]
    fn lines_split_across_chunks() {
        let text = b"{\"a\":1}\n\n{\"b\":2}\n{\"c\"";
        for chunk in [1, 3, 100] {
            let mut s = LineSplitter::default();
            let mut out = Vec::new();
            for c in text.chunks(chunk) {
                s.feed(c, |l| -> Result<(), ()> {
                    out.push(String::from_utf8_lossy(l).into_owned());
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(out, ["{\"a\":1}", "{\"b\":2}"]);
            assert_eq!(s.rest(), Some(&b"{\"c\""[..]));
        }
    }

    #[test]
    fn watch_lines_and_bookmarks_decode_in_either_key_order() {
        let l: WatchLine = serde_json::from_slice(br#"{"object":{"kind":"ConfigMap"},"type":"ADDED"}"#).unwrap();
        assert_eq!((l.kind.as_ref(), l.object.get()), ("ADDED", r#"{"kind":"ConfigMap"}"#));
        let end = br#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"409","annotations":{"k8s.io/initial-events-end":"true"}}}"#;
        let b: BookmarkObject = serde_json::from_slice(end).unwrap();
        assert!(b.initial_events_end());
        assert_eq!(b.metadata.resource_version, "409");
        let plain: BookmarkObject = serde_json::from_slice(
            br#"{"kind":"Pod","metadata":{"resourceVersion":"3"},"spec":{"containers":null},"status":{}}"#,
        )
        .unwrap();
        assert!(!plain.initial_events_end());
    }
}
