//! Load speed of `kubestate sim --fixtures`: dumps a synthetic cluster as `kubectl get -A -o json`
//! (and, with `--yaml`, `-o yaml`) would, then times loading it into a fresh store.
//! Run with `cargo run --release -p kube-sim --example load_dump [-- PODS [--yaml]]`.

use std::time::Instant;

use kube_sim::{Store, SyntheticConfig};

/// CPU seconds this process has used (user + system): on a busy machine wall time says little.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let pods: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let yaml = args.iter().any(|a| a == "--yaml");
    let pods: usize = if pods == 0 { 100_000 } else { pods };
    let source = Store::new(10_000);
    let cfg = SyntheticConfig { nodes: pods.div_ceil(100), pods_per_node: 100, namespaces: 50, ..Default::default() };
    kube_sim::synth::generate(&source, &cfg, 1)?;
    let json = kube_sim::fixtures::dump_json(&source);
    drop(source);
    let dir = std::env::temp_dir().join(format!("kube-sim-load-dump-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut files = vec![("json", dir.join("dump.json"), json.len())];
    std::fs::write(&files[0].1, &json)?;
    if yaml {
        let v: serde_json::Value = serde_json::from_slice(&json)?;
        let text = serde_saphyr::to_string(&v)?;
        std::fs::write(dir.join("dump.yaml"), &text)?;
        files.push(("yaml", dir.join("dump.yaml"), text.len()));
    }
    drop(json);
    for (what, path, bytes) in files {
        let mb = bytes as f64 / 1e6;
        let text = std::fs::read_to_string(&path)?;
        let (t, c) = (Instant::now(), cpu_secs());
        let objs = kube_sim::fixtures::parse_objects(&text)?;
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
        println!("{what}: parsing {} objects: {wall:.2} s, {cpu:.2} CPU s = {:.1} MB per CPU s", objs.len(), mb / cpu);
        drop((text, objs));
        let store = Store::new(10_000);
        let (t, c) = (Instant::now(), cpu_secs());
        let n = kube_sim::fixtures::load(&store, &[path])?;
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
        println!("{what}: loading {n} objects, {mb:.1} MB: {wall:.2} s, {cpu:.2} CPU s = {:.1} MB per CPU s", mb / cpu);
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
