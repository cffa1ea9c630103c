# syntax=docker/dockerfile:1
#
# The operator image: chitty-operator alone, statically linked (musl), on an empty base with
# nothing else but the CA certificates (the clients trust the system roots). Runs as the non-root
# UID/GID 65532 and needs no writable filesystem. The `sim` target is a separate image with
# chitty-sim (the stand-in for the ChittyOS services), for test clusters and the quick start only.
#
#   docker build -t ghcr.io/chittyfoundation/chitty-operator:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <image> --push .
#   docker build --target sim -t ghcr.io/chittyfoundation/chitty-sim:0.1.0 .
#
# The builder runs on the target platform (QEMU under buildx for the other one), so the musl
# target is simply the build machine's own architecture.

# The toolchain the project is built and tested with, pinned by the digest of its multi-platform
# index so a re-pushed tag cannot change what is built. hack/update-base-image.sh looks up the
# tag's current digest and rewrites this line.
FROM docker.io/library/rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY . .

# Cache mounts keep the registry and the target dir between builds; a binary is copied out of the
# cached target dir because the mount is not part of the layer. Each image builds only its own
# binary (BuildKit builds only the stages its target needs).
FROM builder AS build-operator
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
    && cargo build --release --locked --bin chitty-operator --target "$target" \
    && mkdir -p /out \
    && cp "target/$target/release/chitty-operator" /out/

FROM builder AS build-sim
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
    && cargo build --release --locked --bin chitty-sim --target "$target" \
    && mkdir -p /out \
    && cp "target/$target/release/chitty-sim" /out/

# `docker build --target sim`: chitty-sim only (tests, quick start). Never deploy it in production.
FROM scratch AS sim
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build-sim /out/chitty-sim /usr/local/bin/
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8787
ENTRYPOINT ["/usr/local/bin/chitty-sim"]
CMD ["--listen", "0.0.0.0:8787"]

# The default (last) target: the production image, the operator and nothing else.
FROM scratch AS operator
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build-operator /out/chitty-operator /usr/local/bin/
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/chitty-operator"]
CMD ["run"]
