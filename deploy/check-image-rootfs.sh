#!/usr/bin/env bash
# The images' contents checked where no Docker engine runs: build the binary with the Dockerfile's own
# RUSTFLAGS, lay out the runtime stage's files (CA bundle, nsswitch.conf, the binary and its two server
# names) in a directory, and start each server from it with chroot as uid 65534, with in-cluster
# configuration (service-account files and KUBERNETES_SERVICE_*), against kube-sim over TLS. No /dev, no
# /etc/hosts: a FROM-scratch image has neither of its own. Needs root (chroot) and the Rust toolchain.
#
#   sudo deploy/check-image-rootfs.sh            # builds into target/image (the first build takes minutes)
#
# It does not replace `docker build`: the build stage's base image and the COPY lines are not exercised.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target/image}
triple=x86_64-unknown-linux-gnu
api_port=${API_PORT:-28443}
ksm_port=${KSM_PORT:-28080}
ms_port=${MS_PORT:-28444}

[ "$(id -u)" = 0 ] || { echo "check-image-rootfs: needs root (chroot)" >&2; exit 2; }
chroot=$(command -v chroot) || { echo "check-image-rootfs: no chroot on PATH" >&2; exit 2; }
rustflags=$(sed -n "s/^RUN RUSTFLAGS='\([^']*\)'.*/\1/p" "$repo/Dockerfile")
[ -n "$rustflags" ] || { echo "check-image-rootfs: no RUN RUSTFLAGS='...' line in the Dockerfile" >&2; exit 2; }

echo "building with RUSTFLAGS=$rustflags"
(cd "$repo" && CARGO_TARGET_DIR=$target_dir RUSTFLAGS=$rustflags \
    cargo build --release --locked --target $triple -p kubestate)
bin=$target_dir/$triple/release/kubestate

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The runtime stage: what the Dockerfile copies, nothing else.
root=$work/root
mkdir -p "$root/etc/ssl/certs" "$root/certs" "$root/var/run/secrets/kubernetes.io/serviceaccount"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp /etc/nsswitch.conf "$root/etc/"
cp "$bin" "$root/kubestate"
ln -s kubestate "$root/kube-state-metrics"
ln -s kubestate "$root/metrics-server"
# What the kubelet adds to a pod: the service account's files and a writable emptyDir for certificates.
chown 65534:65534 "$root/certs"

mkdir -p "$work/sim"
token=check-image-token
"$bin" sim --listen=127.0.0.1:$api_port --token=$token --cert-dir="$work/sim" --nodes=3 --pods-per-node=5 \
    >"$work/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/sim/ca.crt" ] && curl -skf "https://127.0.0.1:$api_port/readyz" >/dev/null && break; sleep 0.1; done
sa=$root/var/run/secrets/kubernetes.io/serviceaccount
printf %s "$token" >"$sa/token"
cp "$work/sim/ca.crt" "$sa/ca.crt"
printf kube-system >"$sa/namespace"
chmod -R a+rX "$root/var"
pods=$(curl -sk -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/api/v1/pods" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')

run() { # name, then the image's entrypoint and arguments
    local name=$1
    shift
    env -i KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$api_port \
        "$chroot" --userspec=65534:65534 "$root" "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
}
fail() {
    echo "FAIL: $1" >&2
    tail -n 20 "$work/$2.log" >&2
    exit 1
}

run ksm /kube-state-metrics --port=$ksm_port --telemetry-port=$((ksm_port + 1))
seen=0
for _ in $(seq 100); do
    seen=$(curl -s "http://127.0.0.1:$ksm_port/metrics" | grep -c '^kube_pod_info{' || true)
    [ "$seen" = "$pods" ] && break
    sleep 0.1
done
[ "$seen" = "$pods" ] || fail "kube-state-metrics serves $seen of $pods pods" ksm
echo "ok: /kube-state-metrics serves all $pods pods, as uid 65534, in-cluster, without /dev"

run ms /metrics-server --cert-dir=/certs --secure-port=$ms_port --kubelet-insecure-tls \
    --kubelet-use-node-status-port --kubelet-preferred-address-types=InternalIP --metric-resolution=15s
nodes=0
for _ in $(seq 60); do
    nodes=$(curl -sk -H "Authorization: Bearer $token" "https://127.0.0.1:$ms_port/apis/metrics.k8s.io/v1beta1/nodes" \
        | python3 -c 'import json,sys
try: print(len(json.load(sys.stdin)["items"]))
except Exception: print(0)' || true)
    [ "$nodes" = 3 ] && break
    sleep 1
done
[ "$nodes" = 3 ] || fail "metrics-server reports $nodes of 3 nodes" ms
[ -s "$root/certs/apiserver.crt" ] || fail "metrics-server wrote no serving certificate to --cert-dir" ms
echo "ok: /metrics-server reports all 3 nodes, as uid 65534, in-cluster, without /dev"
