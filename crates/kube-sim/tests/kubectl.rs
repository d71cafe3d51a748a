//! Debian's kubectl against the simulator. kubectl is looked up on PATH by the workspace's one tool
//! helper: a missing kubectl skips with a notice, except under `CI=true` where it fails the test.

#[path = "../../../tests/tools/mod.rs"]
mod tools;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use kube_sim::{SimConfig, SimHandle, SyntheticConfig};

struct Kubectl {
    bin: PathBuf,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new(sim: &SimHandle, name: &str) -> Option<Self> {
        let bin = tools::tool("kubectl")?;
        let dir = std::env::temp_dir().join(format!("kube-sim-kubectl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).unwrap();
        Some(Self { bin, dir, kubeconfig })
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(self.dir.join("cache")).args(args);
        cmd.output().await.unwrap()
    }

    /// Run and require success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "kubectl {args:?} failed: {stderr}\n{stdout}");
        assert!(!stderr.contains("rror"), "kubectl {args:?} complained: {stderr}");
        stdout
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().to_string()
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn sim() -> SimHandle {
    kube_sim::start(SimConfig {
        synthetic: Some(SyntheticConfig { nodes: 3, pods_per_node: 4, namespaces: 2, ..Default::default() }),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn kubectl_get_prints_tables_and_yaml() {
    let sim = sim().await;
    let Some(k) = Kubectl::new(&sim, "get") else { return };
    let nodes = k.ok(&["get", "nodes"]).await;
    let first = nodes.lines().next().unwrap();
    assert!(first.starts_with("NAME") && first.contains("STATUS") && first.contains("AGE"), "{nodes}");
    assert_eq!(nodes.lines().count(), 4, "{nodes}");
    assert!(nodes.contains("node-0000") && nodes.contains("control-plane"));
    let pods = k.ok(&["get", "pods", "-A"]).await;
    assert!(pods.lines().next().unwrap().starts_with("NAMESPACE"), "{pods}");
    assert_eq!(pods.lines().count(), 13, "{pods}");
    let on_node = k.ok(&["get", "pods", "-A", "--field-selector", "spec.nodeName=node-0000", "-o", "name"]).await;
    let expected = sim.store().list("v1", "Pod", None).iter().filter(|p| p["spec"]["nodeName"] == "node-0000").count();
    assert_eq!(on_node.lines().count(), expected);
    let yaml = k.ok(&["get", "namespace", "app-0", "-o", "yaml"]).await;
    assert!(yaml.contains("kind: Namespace") && yaml.contains("name: app-0") && yaml.contains("uid:"), "{yaml}");
    let out = k.run(&["get", "configmap", "does-not-exist"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn kubectl_create_apply_patch_delete() {
    let sim = sim().await;
    let Some(k) = Kubectl::new(&sim, "write") else { return };
    let cm = k.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  labels: {team: a}\ndata:\n  k: v1\n",
    );
    assert!(k.ok(&["create", "-f", &cm]).await.contains("configmap/demo created"));
    let dep_text = |replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: app-1\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers: [{{name: web, image: nginx}}]\n"
        )
    };
    let dep = k.file("dep.yaml", &dep_text(2));
    assert!(k.ok(&["apply", "-f", &dep]).await.contains("created"));
    let dep = k.file("dep.yaml", &dep_text(4));
    assert!(k.ok(&["apply", "-f", &dep]).await.contains("configured"));
    let d = sim.store().get("apps/v1", "Deployment", Some("app-1"), "web").unwrap();
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);
    assert!(d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        "app-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"readyReplicas":4,"replicas":4}}"#,
    ])
    .await;
    let d = sim.store().get("apps/v1", "Deployment", Some("app-1"), "web").unwrap();
    assert_eq!(d["status"]["readyReplicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);
    let row = k.ok(&["get", "deployment", "web", "-n", "app-1"]).await;
    assert!(row.contains("4/4"), "{row}");
    k.ok(&["patch", "configmap", "demo", "-p", r#"{"data":{"k":"v2"}}"#]).await;
    assert_eq!(sim.store().get("v1", "ConfigMap", Some("default"), "demo").unwrap()["data"]["k"], "v2");
    assert!(k.ok(&["delete", "-f", &cm]).await.contains("deleted"));
    assert!(k.ok(&["delete", "deployment", "web", "-n", "app-1"]).await.contains("deleted"));
    assert!(sim.store().get("v1", "ConfigMap", Some("default"), "demo").is_none());
    assert!(sim.store().get("apps/v1", "Deployment", Some("app-1"), "web").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn kubectl_get_watch_sees_changes_until_timeout() {
    let sim = sim().await;
    let Some(k) = Kubectl::new(&sim, "watch") else { return };
    sim.store()
        .create(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before", "namespace": "default"}}))
        .unwrap();
    let store_writer = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        sim.store()
            .create(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "during", "namespace": "default"}}))
            .unwrap();
    };
    let t0 = std::time::Instant::now();
    let (out, ()) = tokio::join!(k.run(&["get", "configmaps", "--watch", "--request-timeout=4s"]), store_writer);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("before"), "{stdout}");
    assert!(stdout.contains("during"), "{stdout}");
    assert!(t0.elapsed() < Duration::from_secs(15));
    sim.shutdown().await;
}

#[tokio::test]
async fn kubectl_get_wide_prints_the_real_servers_columns() {
    let sim = sim().await;
    let Some(k) = Kubectl::new(&sim, "wide") else { return };
    sim.store()
        .create(serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tz", "namespace": "app-0"},
            "spec": {"schedule": "*/5 * * * *", "timeZone": "Europe/Paris", "suspend": true,
                "jobTemplate": {"spec": {"selector": {"matchLabels": {"job": "tz"}},
                    "template": {"spec": {"containers": [{"name": "run", "image": "busybox:1"}], "restartPolicy": "Never"}}}}}}))
        .unwrap();
    let header = |out: &str| out.lines().next().unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
    let ds = k.ok(&["get", "ds", "-A", "-o", "wide"]).await;
    assert_eq!(
        header(&ds),
        "NAMESPACE NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE CONTAINERS IMAGES SELECTOR",
        "{ds}"
    );
    assert!(
        ds.contains("kube-proxy")
            && ds.contains("registry.k8s.io/kube-proxy:v1.36.0")
            && ds.contains("k8s-app=kube-proxy"),
        "{ds}"
    );
    let sts = k.ok(&["get", "sts", "-A", "-o", "wide"]).await;
    assert_eq!(header(&sts), "NAMESPACE NAME READY AGE CONTAINERS IMAGES", "{sts}");
    assert!(sts.contains("registry.example/db:16"), "{sts}");
    let cj = k.ok(&["get", "cronjobs", "-n", "app-0", "-o", "wide"]).await;
    assert_eq!(
        header(&cj),
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE CONTAINERS IMAGES SELECTOR",
        "{cj}"
    );
    let row = cj.lines().find(|l| l.starts_with("tz ")).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(row.starts_with("tz */5 * * * * Europe/Paris True 0 <none>"), "{row}");
    assert!(row.ends_with("run busybox:1 job=tz"), "{row}");
    // Without -o wide the priority-1 columns stay hidden, as on a real server.
    assert_eq!(header(&k.ok(&["get", "sts", "-A"]).await), "NAMESPACE NAME READY AGE");
    sim.shutdown().await;
}
