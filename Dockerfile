# Multi-stage build of one static, stripped binary (the release profile strips it); the runtime images
# hold nothing else. Upstream images start their server from the entrypoint and manifests pass only
# `args:`, so for a drop-in there is one image per server, each with that entrypoint (argv[0] picks the
# server). Build both, tagged with the crate version, as deploy/README.md describes:
#   docker build --target kube-state-metrics -t ghcr.io/kubestate/kube-state-metrics:0.1.0 .
#   docker build --target metrics-server     -t ghcr.io/kubestate/metrics-server:0.1.0 .
# Without --target the last stage, kube-state-metrics, is built. The `kubestate` stage holds the same
# binary behind its own name (`kubestate <subcommand> ...`) for running the simulator or the demo.
#
# The binary is the glibc build that BENCHMARKS.md measures, linked statically (crt-static) so that the
# image still needs nothing else. A musl build was tried and not kept: its allocator and memcpy took 2.7
# times the CPU to a full view and three times per scrape (BENCHMARKS.md, ninth round). In-cluster the
# API server is reached by IP address; kubelets by the address type --kubelet-preferred-address-types
# picks, host names through the /etc/hosts and /etc/resolv.conf every pod gets.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# getrandom_backend: a static binary cannot look glibc's getrandom() up at run time (dlsym finds nothing),
# so the getrandom crate would read /dev/urandom instead, and fail where no /dev is mounted; this links the
# call directly, as the dynamic build ends up using it.
RUN RUSTFLAGS='-C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"' \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
 && mkdir -p /out \
 && cp target/x86_64-unknown-linux-gnu/release/kubestate /out/kubestate \
 && ln -s kubestate /out/kube-state-metrics \
 && ln -s kubestate /out/metrics-server

FROM scratch AS base
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# glibc's resolver order (hosts: files dns), so host names resolve as on any Debian system.
COPY --from=build /etc/nsswitch.conf /etc/nsswitch.conf
COPY --from=build /out/ /
# Non-root (nobody) and nothing written to the root filesystem: run with readOnlyRootFilesystem: true.
# metrics-server writes self-signed serving certificates only to --cert-dir (mount an emptyDir there).
USER 65534:65534

FROM base AS kubestate
ENTRYPOINT ["/kubestate"]

FROM base AS metrics-server
EXPOSE 10250
ENTRYPOINT ["/metrics-server"]

FROM base AS kube-state-metrics
EXPOSE 8080 8081
ENTRYPOINT ["/kube-state-metrics"]
