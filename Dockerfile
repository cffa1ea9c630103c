# syntax=docker/dockerfile:1
#
# The operator image: chitty-operator and chitty-sim, statically linked (musl), on an empty base
# with nothing else but the CA certificates (the clients trust the system roots). Runs as the
# non-root UID/GID 65532 and needs no writable filesystem.
#
#   docker build -t ghcr.io/chittyfoundation/chitty-operator:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <image> --push .
#
# The builder runs on the target platform (QEMU under buildx for the other one), so the musl
# target is simply the build machine's own architecture.

# The toolchain the project is built and tested with.
ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds; the binaries are copied out
# of the cached target dir because the mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
    && cargo build --release --locked --bins --target "$target" \
    && mkdir -p /out \
    && cp "target/$target/release/chitty-operator" "target/$target/release/chitty-sim" /out/

FROM scratch
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/chitty-operator /out/chitty-sim /usr/local/bin/
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/chitty-operator"]
CMD ["run"]
