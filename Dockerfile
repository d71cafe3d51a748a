# Multi-stage build of one static binary; the runtime images hold nothing else.
# Upstream images start their binary from the entrypoint with only `args:` in the manifests, so for a true
# drop-in there is one image per upstream name, each with that entrypoint (argv[0] picks the server):
#   docker build --target kube-state-metrics -t kubestate/kube-state-metrics .
#   docker build --target metrics-server     -t kubestate/metrics-server .
#   docker build -t kubestate .              # all subcommands: kubestate <subcommand> ...
# Every image carries the same binary under all three names, at the paths upstream uses (/kube-state-metrics,
# /metrics-server).
FROM rust:1-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl \
 && apt-get update && apt-get install -y --no-install-recommends musl-tools
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
 && mkdir -p /out \
 && cp target/x86_64-unknown-linux-musl/release/kubestate /out/kubestate \
 && ln -s kubestate /out/kube-state-metrics \
 && ln -s kubestate /out/metrics-server

FROM scratch AS base
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ /
# Non-root (nobody) and nothing written to the root filesystem: run with readOnlyRootFilesystem: true.
# metrics-server writes self-signed serving certificates only to --cert-dir (mount an emptyDir there).
USER 65534:65534

FROM base AS kube-state-metrics
EXPOSE 8080 8081
ENTRYPOINT ["/kube-state-metrics"]

FROM base AS metrics-server
EXPOSE 10250
ENTRYPOINT ["/metrics-server"]

FROM base AS kubestate
ENTRYPOINT ["/kubestate"]
