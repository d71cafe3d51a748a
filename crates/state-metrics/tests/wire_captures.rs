//! The decoders against a real kube-apiserver v1.36: for every resource, the JSON and the
//! protobuf capture of the same list (and of the same watch stream) render to identical metric text.
//! The captures live beside kwire's own tests (crates/kwire/tests/wire, README there says how each was
//! made).

use std::path::{Path, PathBuf};

use state_metrics::family::{Ctx, KeyAllow};
use state_metrics::registry::{Format, ResourceHandle, available};

fn wire(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kwire/tests/wire").join(name)
}

/// Every family on (opt-in ones too), every label and annotation copied: as much of each object as the
/// families can read is rendered.
fn everything(h: &dyn ResourceHandle) -> (Ctx, Vec<usize>) {
    let ctx = Ctx { labels: KeyAllow::All, annotations: KeyAllow::All };
    (ctx, (0..h.family_count()).collect())
}

fn render(h: &dyn ResourceHandle, raw: &[u8], format: Format) -> String {
    let (ctx, enabled) = everything(h);
    let r = h.render(raw, format, &ctx, &enabled).unwrap_or_else(|e| panic!("{} ({format:?}): {e}", h.name()));
    String::from_utf8(r.buf).unwrap()
}

/// The items of a protobuf list body, each in its own encoding.
fn pb_items(body: &[u8]) -> Vec<Vec<u8>> {
    let env = kwire::open(body).expect("envelope");
    let mut r = kwire::Reader::new(env.raw);
    let mut out = Vec::new();
    while let Some(f) = r.next().expect("list") {
        if let (2, kwire::Value::Bytes(item)) = (f.number, f.value) {
            out.push(item.to_vec());
        }
    }
    out
}

#[test]
fn json_and_protobuf_lists_of_every_resource_render_the_same() {
    let mut checked = Vec::new();
    for h in available() {
        let plural = h.api_plural();
        let (json, pb) = (wire(&format!("{plural}.list.json")), wire(&format!("{plural}.list.pb")));
        let (Ok(json), Ok(pb)) = (std::fs::read(&json), std::fs::read(&pb)) else {
            panic!("no capture of {plural} lists in {}", wire("").display());
        };
        let list: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let from_json: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| render(h.as_ref(), &serde_json::to_vec(item).unwrap(), Format::Json))
            .collect();
        let from_pb: Vec<String> =
            pb_items(&pb).iter().map(|item| render(h.as_ref(), item, Format::Protobuf)).collect();
        assert!(!from_json.is_empty(), "{plural}: an empty capture proves nothing");
        assert_eq!(from_json.len(), from_pb.len(), "{plural}: item count");
        for (i, (j, p)) in from_json.iter().zip(&from_pb).enumerate() {
            assert_eq!(j, p, "{plural} item {i}: protobuf renders differently from JSON");
            assert!(!j.is_empty(), "{plural} item {i} renders nothing");
        }
        checked.push(plural);
    }
    assert_eq!(checked.len(), available().len(), "resources checked: {checked:?}");
}

/// Equal text is not enough: a field one encoding decodes as absent and the other as present-but-empty
/// renders the same until a family asks whether it is there. Go decodes both encodings of an object to
/// the same struct, so the projections must be equal too.
#[test]
fn json_and_protobuf_lists_of_every_resource_decode_to_equal_projections() {
    let mut differ = Vec::new();
    for h in available() {
        let plural = h.api_plural();
        let json = std::fs::read(wire(&format!("{plural}.list.json"))).unwrap();
        let pb = std::fs::read(wire(&format!("{plural}.list.pb"))).unwrap();
        let list: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let items = list["items"].as_array().unwrap();
        let pb = pb_items(&pb);
        assert_eq!(items.len(), pb.len(), "{plural}: item count");
        for (i, (j, p)) in items.iter().zip(&pb).enumerate() {
            let j = h.projection(&serde_json::to_vec(j).unwrap(), Format::Json).unwrap();
            let p = h.projection(p, Format::Protobuf).unwrap();
            if j != p {
                let first = j.lines().zip(p.lines()).find(|(a, b)| a != b);
                differ.push(format!(
                    "{plural} item {i}: JSON {:?} / protobuf {:?}",
                    first.map(|f| f.0),
                    first.map(|f| f.1)
                ));
            }
        }
    }
    assert!(differ.is_empty(), "projections differ:\n{}", differ.join("\n"));
}

/// (type, rendered text or resourceVersion) per event of a JSON watch stream.
fn json_events(h: &dyn ResourceHandle, text: &[u8]) -> Vec<(String, String)> {
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let ev: serde_json::Value = serde_json::from_slice(line).unwrap();
            let kind = ev["type"].as_str().unwrap().to_owned();
            let obj = &ev["object"];
            let what = match kind.as_str() {
                "ADDED" | "MODIFIED" => render(h, &serde_json::to_vec(obj).unwrap(), Format::Json),
                _ => obj["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned(),
            };
            (kind, what)
        })
        .collect()
}

fn pb_events(h: &dyn ResourceHandle, body: &[u8]) -> Vec<(String, String)> {
    let mut frames = kwire::FrameSplitter::default();
    let mut out = Vec::new();
    frames
        .feed(body, |frame| -> Result<(), ()> {
            let ev = kwire::watch_event(frame).unwrap();
            let raw = kwire::open(ev.object).unwrap().raw;
            let what = match ev.kind {
                "ADDED" | "MODIFIED" => render(h, raw, Format::Protobuf),
                _ => state_metrics::ingest::pb::key_of_pb(raw).unwrap().1,
            };
            out.push((ev.kind.to_owned(), what));
            Ok(())
        })
        .unwrap();
    assert_eq!(frames.pending(), 0, "a frame left incomplete");
    out
}

#[test]
fn json_and_protobuf_watch_streams_carry_the_same_events() {
    let mut checked = 0;
    for h in available() {
        let plural = h.api_plural();
        let (Ok(json), Ok(pb)) =
            (std::fs::read(wire(&format!("{plural}.watch.json"))), std::fs::read(wire(&format!("{plural}.watch.pb"))))
        else {
            continue;
        };
        let (j, p) = (json_events(h.as_ref(), &json), pb_events(h.as_ref(), &pb));
        assert!(j.len() >= 3, "{plural}: {j:?}");
        assert_eq!(j, p, "{plural}: the protobuf stream differs from the JSON one");
        checked += 1;
    }
    assert!(checked >= 2, "watch captures checked: {checked}");
}
