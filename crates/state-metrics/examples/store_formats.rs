//! Compares ways of holding a scrape's text in memory, on a real `/metrics` body:
//!
//! ```text
//! curl -s localhost:8080/metrics > body.txt
//! cargo run --release -p state-metrics --example store_formats -- body.txt
//! ```
//!
//! Lines are grouped back into objects (by resource and identity labels), then held three ways: plain text
//! per object (what upstream holds), the store's compact form, and deflate-compressed per-object blocks.
//! For each it prints the bytes held and the time to write the whole body family by family, the order
//! `/metrics` needs.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Instant;

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use state_metrics::scrape::{Headers, ResourceFilter, Scrape, Served};
use state_metrics::textstore::{Maintenance, ObjectKey, StoreEvent, store};

/// One resource's objects: family names in order of appearance, and per object its lines per family.
#[derive(Default)]
struct Resource {
    families: Vec<String>,
    objects: BTreeMap<String, BTreeMap<usize, Vec<u8>>>,
}

/// The object a line belongs to: the labels up to and including `uid`, or else the first two labels.
fn identity(line: &str) -> &str {
    let Some(open) = line.find('{') else { return "" };
    let labels = &line[open..];
    if let Some(u) = labels.find("uid=\"")
        && let Some(end) = labels[u + 5..].find('"')
    {
        return &labels[..u + 5 + end + 1];
    }
    let mut commas = labels.match_indices("\",").map(|(i, _)| i + 1);
    commas.nth(1).map_or(labels, |i| &labels[..i])
}

fn split(body: &str) -> BTreeMap<String, Resource> {
    let mut out: BTreeMap<String, Resource> = BTreeMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = &line[..line.find(['{', ' ']).unwrap_or(line.len())];
        let resource = name.split('_').take(2).collect::<Vec<_>>().join("_");
        let r = out.entry(resource).or_default();
        let fam = match r.families.iter().position(|f| f == name) {
            Some(i) => i,
            None => {
                r.families.push(name.to_owned());
                r.families.len() - 1
            }
        };
        let text = r.objects.entry(identity(line).to_owned()).or_default().entry(fam).or_default();
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
    }
    out
}

/// One object's text deflated, and where each family ends in the inflated text.
type Deflated = (Vec<u8>, Vec<u32>);

fn rendered(obj: &BTreeMap<usize, Vec<u8>>, families: usize) -> state_metrics::family::Rendered {
    state_metrics::family::Rendered::of_text((0..families).map(|f| obj.get(&f).map_or(&[][..], |t| &t[..])))
}

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn best_of(n: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..n {
        let t = Instant::now();
        bytes = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, bytes)
}

fn main() -> anyhow::Result<()> {
    let path =
        std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: store_formats BODY.txt [--compact-only]"))?;
    // At 100,000 pods inflating every object once per family takes minutes; the flag skips the
    // alternatives and measures the store alone.
    let compact_only = std::env::args().nth(2).as_deref() == Some("--compact-only");
    let body = std::fs::read_to_string(&path)?;
    let resources = split(&body);
    let objects: usize = resources.values().map(|r| r.objects.len()).sum();
    let lines = body.lines().filter(|l| !l.starts_with('#')).count();
    println!("{path}: {} bytes, {lines} sample lines, {objects} objects in {} resources", body.len(), resources.len());
    drop(body);

    // 1. Plain text per object.
    let plain: Vec<(Vec<String>, Vec<state_metrics::family::Rendered>)> = resources
        .values()
        .map(|r| (r.families.clone(), r.objects.values().map(|o| rendered(o, r.families.len())).collect()))
        .collect();
    let held: usize = plain.iter().flat_map(|(_, o)| o).map(|r| r.buf.len() + r.family_ends().len() * 4).sum();
    let (secs, bytes) = best_of(if compact_only { 0 } else { 5 }, || {
        let mut out = Vec::with_capacity(64 << 10);
        let mut n = 0;
        for (fams, objs) in &plain {
            for f in 0..fams.len() {
                for o in objs {
                    out.extend_from_slice(o.family(f));
                    if out.len() >= 64 << 10 {
                        n += out.len();
                        out.clear();
                    }
                }
            }
        }
        n + out.len()
    });
    if !compact_only {
        report("plain text per object", held, secs, bytes);
    }

    // 2. The store's compact form, through the real store and scrape.
    let before = rss_mib();
    let maintenance = Maintenance::threads();
    let writers: Vec<Served> = resources
        .iter()
        .zip(&plain)
        .map(|((name, r), (fams, objs))| {
            let (reader, mut parts) = store(fams, 1, &maintenance);
            let w = &mut parts[0];
            // As a list arrives: in key order, so the objects land in columns.
            w.apply(StoreEvent::BeginRelist);
            for (key, o) in r.objects.keys().zip(objs) {
                w.apply(StoreEvent::Insert(ObjectKey::new("", key, ""), o.clone()));
            }
            w.apply(StoreEvent::EndRelist);
            let headers = Headers::from_parts(fams.iter().map(|f| (f.clone(), Vec::new(), Vec::new())).collect());
            Served { name: name.clone(), headers: std::sync::Arc::new(headers), store: reader }
        })
        .collect();
    let held: usize = writers.iter().map(|w| w.store.held_bytes()).sum();
    println!("  (process RSS grew {:.1} MiB while building the compact stores)", rss_mib() - before);
    let (secs, bytes) = best_of(5, || {
        let mut s = Scrape::new(&writers, &ResourceFilter::default(), false);
        let mut out = Vec::with_capacity(64 << 10);
        let mut n = 0;
        while s.fill(&mut out, 64 << 10) {
            n += out.len();
            out.clear();
        }
        n + out.len()
    });
    report("compact (prefix + remainders)", held, secs, bytes);
    if compact_only {
        return Ok(());
    }

    // 3. Deflate-compressed per-object blocks, inflated once per family visit.
    let compressed: Vec<(usize, Vec<Deflated>)> = plain
        .iter()
        .map(|(fams, objs)| {
            let blocks = objs
                .iter()
                .map(|o| {
                    let mut e = DeflateEncoder::new(Vec::new(), Compression::fast());
                    e.write_all(&o.buf).unwrap_or_default();
                    (e.finish().unwrap_or_default(), o.family_ends().to_vec())
                })
                .collect();
            (fams.len(), blocks)
        })
        .collect();
    let held: usize = compressed.iter().flat_map(|(_, b)| b).map(|(z, e)| z.len() + e.len() * 4).sum();
    let (secs, bytes) = best_of(1, || {
        let mut out = Vec::with_capacity(64 << 10);
        let mut scratch = Vec::new();
        let mut n = 0;
        for (fams, blocks) in &compressed {
            for f in 0..*fams {
                for (z, ends) in blocks {
                    scratch.clear();
                    DeflateDecoder::new(&z[..]).read_to_end(&mut scratch).unwrap_or_default();
                    let start = if f == 0 { 0 } else { ends[f - 1] as usize };
                    out.extend_from_slice(&scratch[start..ends[f] as usize]);
                    if out.len() >= 64 << 10 {
                        n += out.len();
                        out.clear();
                    }
                }
            }
        }
        n + out.len()
    });
    report("deflate per object", held, secs, bytes);
    Ok(())
}

fn report(what: &str, held: usize, secs: f64, bytes: usize) {
    println!(
        "  {what:32} held {:7.1} MB   full write {:.3} s ({:.0} MB/s, {} bytes)",
        held as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs,
        bytes
    );
}
