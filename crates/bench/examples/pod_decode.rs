//! The pod decoders alone, on saved pod lists, for profiling them between bench runs:
//!
//! ```text
//! curl -s -H 'accept: application/json' "$SIM/api/v1/pods?resourceVersion=0" > pods.json
//! curl -s -H 'accept: application/vnd.kubernetes.protobuf' "$SIM/api/v1/pods?resourceVersion=0" > pods.pb
//! cargo run --profile profiling -p kubestate-bench --example pod_decode -- pods.json pods.pb [ROUNDS] [only-pb]
//! ```
//!
//! Prints ns per pod for the same three decoders as `kubestate-bench` (this thread's CPU time, as the
//! bench counts it); with `only-pb` it loops the protobuf decoder alone (for `perf record`).

use state_metrics::proj::Message;
use state_metrics::resources::pod::Pod;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 3, "usage: pod_decode PODS.json PODS.pb [ROUNDS] [only-pb]");
    let json = std::fs::read(&args[1])?;
    let pb = std::fs::read(&args[2])?;
    let rounds: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let only_pb = args.get(4).is_some_and(|s| s == "only-pb");
    let pb_items = kubestate_bench::protobuf_items(&pb)?;
    let n = pb_items.len();
    let time = |name: &str, f: &dyn Fn() -> usize| {
        let start = kubestate_bench::procfs::thread_cpu_seconds();
        let mut kept = 0;
        for _ in 0..rounds {
            kept += f();
        }
        let ns = (kubestate_bench::procfs::thread_cpu_seconds() - start) * 1e9 / (rounds * n) as f64;
        assert_eq!(kept, rounds * n);
        println!("{name:<24} {ns:>8.0} ns per pod");
    };
    let pb_decode = || pb_items.iter().filter(|i| Pod::decode(i).is_ok()).count();
    if only_pb {
        time("projection protobuf", &pb_decode);
        return Ok(());
    }
    let json_items = kubestate_bench::json_items(&json)?;
    anyhow::ensure!(json_items.len() == n, "the lists differ");
    for (j, p) in json_items.iter().zip(&pb_items) {
        anyhow::ensure!(serde_json::from_slice::<Pod>(j)? == Pod::decode(p)?, "the encodings decode differently");
    }
    println!("{n} pods, {} B JSON, {} B protobuf per pod", json.len() / n, pb.len() / n);
    time("k8s-openapi JSON", &|| {
        json_items.iter().filter(|i| serde_json::from_slice::<k8s_openapi::api::core::v1::Pod>(i).is_ok()).count()
    });
    time("projection JSON", &|| json_items.iter().filter(|i| serde_json::from_slice::<Pod>(i).is_ok()).count());
    time("projection protobuf", &pb_decode);
    Ok(())
}
