//! The schema and the transcoder against real kube-apiserver v1.36 responses (`tests/wire/`): every
//! protobuf capture decodes to the values of its JSON sibling, every JSON capture transcodes to
//! protobuf that decodes back to the same values, and envelopes, list metadata and watch frames are
//! rebuilt byte for byte. A wrong field number, type or JSON name in the schema breaks the
//! comparison for every capture that carries the field.

use std::collections::BTreeSet;
use std::path::PathBuf;

use kwire::json::{decode_body, decode_watch_event, encode, first_difference};
use kwire::schema::{self, Kind, Shape};
use kwire::{FrameSplitter, ListMeta, Reader, Value as Wire};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wire")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn names(suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn assert_same(what: &str, got: &Value, want: &Value) {
    if let Some(d) = first_difference(got, want) {
        panic!("{what}: decoded protobuf differs from JSON at {d}");
    }
}

/// The message a JSON object or list names with its kind and apiVersion.
fn message_of(json: &Value) -> &'static str {
    let (av, kind) = (json["apiVersion"].as_str().unwrap(), json["kind"].as_str().unwrap());
    schema::for_kind(av, kind).unwrap_or_else(|| panic!("{av} {kind} not in the schema")).name
}

/// Each protobuf body against its JSON sibling, and the JSON through the transcoder and back.
fn check_body(pb_name: &str, json_name: &str) {
    let body = read(pb_name);
    let json: Value = serde_json::from_slice(&read(json_name)).unwrap();
    let decoded = decode_body(&body).unwrap_or_else(|e| panic!("{pb_name}: {e}"));
    assert_same(pb_name, &decoded, &json);

    let pb = encode(message_of(&json), &json).unwrap_or_else(|e| panic!("{json_name}: {e}"));
    let env = kwire::open(&body).unwrap();
    let transcoded = decode_body(&kwire::seal(env.api_version, env.kind, &pb)).unwrap();
    assert_same(&format!("{json_name} transcoded"), &transcoded, &json);

    // The envelope as the server writes it.
    assert_eq!(kwire::seal(env.api_version, env.kind, env.raw), body, "{pb_name}: envelope");
}

#[test]
fn every_list_capture_decodes_to_its_json_and_transcodes_back() {
    let lists = names(".list.pb");
    assert_eq!(lists.len(), 40, "one protobuf list per built-in kind");
    for pb in lists {
        check_body(&pb, &pb.replace(".pb", ".json"));
    }
}

#[test]
fn sharded_paginated_and_exact_lists_decode_and_rebuild_byte_for_byte() {
    let others = [
        "pods.list-shard0",
        "pods.list-shard1",
        "configmaps.list-shard0",
        "configmaps.list-shard1",
        "pods.list-limit2",
        "pods.list-consistent-limit2",
        "pods.list-consistent-limit2-page2",
        "pods.list-exact-rv400-compacted",
    ];
    for name in others {
        check_body(&format!("{name}.pb"), &format!("{name}.json"));
    }
    // Whole list bodies from their JSON list metadata and the items' own bytes: envelope, ListMeta
    // (selfLink, resourceVersion and continue always written, remainingItemCount and shardInfo when
    // set) and item framing exactly as the server writes them.
    for name in names(".list.pb").iter().map(|n| n.trim_end_matches(".pb").to_string()).chain(others.map(String::from))
    {
        let body = read(&format!("{name}.pb"));
        let json: Value = serde_json::from_slice(&read(&format!("{name}.json"))).unwrap();
        let env = kwire::open(&body).unwrap();
        let mut items = Vec::new();
        let mut r = Reader::new(env.raw);
        while let Some(f) = r.next().unwrap() {
            if let (2, Wire::Bytes(b)) = (f.number, f.value) {
                items.push(b);
            }
        }
        let m = &json["metadata"];
        let s = |k: &str| m[k].as_str().unwrap_or_default();
        let meta = ListMeta {
            resource_version: s("resourceVersion"),
            continue_token: s("continue"),
            remaining_item_count: m["remainingItemCount"].as_i64(),
            shard_selector: m.pointer("/shardInfo/selector").and_then(Value::as_str),
        };
        let rebuilt = kwire::list_body(env.api_version, env.kind, &meta, items.iter().copied());
        assert!(rebuilt == body, "{name}: rebuilt list body differs");
    }
}

fn frames(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut s = FrameSplitter::default();
    s.feed(body, |f| -> Result<(), ()> {
        out.push(f.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(s.pending(), 0, "stream ends on a frame boundary");
    out
}

fn json_events(name: &str) -> Vec<Value> {
    String::from_utf8(read(name)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn check_stream(pb_name: &str, events: &[Value]) {
    let frames = frames(&read(pb_name));
    assert_eq!(frames.len(), events.len(), "{pb_name}: events");
    for (i, (frame, want)) in frames.iter().zip(events).enumerate() {
        let got = decode_watch_event(frame).unwrap_or_else(|e| panic!("{pb_name} frame {i}: {e}"));
        assert_same(&format!("{pb_name} frame {i}"), &got, want);
        // The frame rebuilt from its event type and embedded envelope.
        let ev = kwire::watch_event(frame).unwrap();
        assert_eq!(&kwire::watch_frame(ev.kind, ev.object)[4..], &frame[..], "{pb_name} frame {i}");
        // And from the JSON event: type, object transcoded, envelope, frame.
        let obj = &want["object"];
        let pb = encode(message_of(obj), obj).unwrap_or_else(|e| panic!("{pb_name} event {i}: {e}"));
        let sealed = kwire::seal(obj["apiVersion"].as_str().unwrap(), obj["kind"].as_str().unwrap(), &pb);
        let frame2 = kwire::watch_frame(want["type"].as_str().unwrap(), &sealed);
        let back = decode_watch_event(&frame2[4..]).unwrap();
        assert_same(&format!("{pb_name} event {i} transcoded"), &back, want);
    }
}

#[test]
fn every_watch_stream_decodes_to_the_same_events_as_its_json() {
    let streams = names(".pb").into_iter().filter(|n| n.contains(".watch")).collect::<Vec<_>>();
    assert!(streams.len() >= 13, "{streams:?}");
    for pb in &streams {
        let json = pb.replace(".pb", ".json");
        if pb.starts_with("configmaps.watch-clientgo-accept") {
            // The client-go Accept header replayed the same three events within its 5 s timeout.
            check_stream(pb, &json_events("configmaps.watch.json")[..3]);
        } else {
            check_stream(pb, &json_events(&json));
        }
    }
}

#[test]
fn error_bodies_decode_to_their_json_statuses() {
    let errors: Vec<String> = names(".pb").into_iter().filter(|n| n.starts_with("error-")).collect();
    assert!(errors.len() >= 14, "{errors:?}");
    for pb in &errors {
        let json = pb.replace(".pb", ".json");
        if dir().join(&json).exists() {
            check_body(pb, &json);
        }
    }
    let s = decode_body(&read("error-406-cr-protobuf.pb")).unwrap();
    assert_eq!((s["reason"].as_str(), s["code"].as_i64()), (Some("NotAcceptable"), Some(406)));
}

/// Every (message, field) the captures carry, by walking the protobuf bytes with the schema.
fn fields_seen(m: &'static schema::MessageDef, bytes: &[u8], seen: &mut BTreeSet<(&'static str, u32)>) {
    let mut r = Reader::new(bytes);
    while let Ok(Some(f)) = r.next() {
        let Some(def) = m.field(f.number) else { continue };
        seen.insert((m.name, f.number));
        if let (Some(inner), Wire::Bytes(b)) = (def.kind.message(), f.value) {
            if matches!(def.shape, Shape::Map(_)) {
                let mut e = Reader::new(b);
                while let Ok(Some(g)) = e.next() {
                    if let (2, Wire::Bytes(v)) = (g.number, g.value) {
                        fields_seen(inner, v, seen);
                    }
                }
            } else {
                fields_seen(inner, b, seen);
            }
        }
    }
}

#[test]
fn captures_exercise_a_broad_part_of_the_schema() {
    let mut seen = BTreeSet::new();
    for pb in names(".list.pb") {
        let body = read(&pb);
        let env = kwire::open(&body).unwrap();
        fields_seen(schema::for_kind(env.api_version, env.kind).unwrap(), env.raw, &mut seen);
    }
    // Top-level fields of every kind's message appear, and hundreds of nested ones: a wrong number
    // anywhere among them breaks the comparisons above.
    for (av, kind) in schema::kinds().filter(|(_, k)| k.ends_with("List")) {
        let m = schema::for_kind(av, kind).unwrap();
        let item = m.field(2).and_then(|f| f.kind.message()).unwrap();
        let wanted = ["Pod", "Node", "Deployment", "ConfigMap", "CustomResourceDefinition"];
        if wanted.iter().any(|w| item.name.ends_with(&format!(".{w}"))) {
            assert!(seen.contains(&(item.name, 1)), "{} metadata", item.name);
        }
    }
    let strings = seen
        .iter()
        .filter(|(m, n)| schema::message(m).and_then(|m| m.field(*n)).is_some_and(|f| f.kind == Kind::String));
    assert!(seen.len() > 500, "fields exercised: {}", seen.len());
    assert!(strings.count() > 200);
}
