# app-rust container image.
#
# Users: `docker build -t app-rust:0.1.0 .` (or `podman build`) on amd64 or arm64; the
# builder compiles natively for whatever platform it runs on.
#
# Offline (no registry, what the test suite runs): scripts/build-image.sh builds the
# same file with buildah, `--target runtime`, and replaces the two input stages below
# with local directories of the same layout:
#   --build-context app-binary=DIR   DIR/app-rust     (a static binary built by cargo)
#   --build-context busybox=DIR      DIR/bin/busybox  (Debian's busybox-static)
# A named build context overrides the stage of the same name (buildah and BuildKit), so
# the runtime stage is built from exactly the instructions users build.
# tests/image/run.sh checks that the runtime stage stays as it expects.

# ---- builder: a fully static binary for the build platform ----------------------------
FROM docker.io/library/rust:1.95.0-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Static glibc (crt-static) so the binary runs FROM scratch. The target triple is the
# builder's own host triple (x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu, ...),
# never hard-coded; an explicit --target keeps RUSTFLAGS away from build scripts.
RUN --mount=type=cache,id=app-rust-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=app-rust-target,target=/src/target,sharing=locked \
    set -eux; \
    triple="$(rustc -vV | sed -n 's/^host: //p')"; \
    RUSTFLAGS='-C target-feature=+crt-static' \
      cargo build --release --locked --target "$triple"; \
    mkdir -p /out; \
    cp "target/$triple/release/app-rust" /out/app-rust; \
    strip /out/app-rust; \
    /out/app-rust --help >/dev/null

# ---- app-binary: just the binary (offline: --build-context app-binary=DIR) ------------
FROM scratch AS app-binary
COPY --from=builder /out/app-rust /app-rust

# ---- busybox: a static busybox for `cat` (offline: --build-context busybox=DIR) -------
FROM docker.io/library/busybox:1.37.0-musl AS busybox

# ---- runtime ----------------------------------------------------------------------------
FROM scratch AS runtime
ARG APP_VERSION=0.1.0
ARG APP_SOURCE=https://github.com/app-rust/app-rust
LABEL org.opencontainers.image.title="app-rust" \
      org.opencontainers.image.description="Per-replica durable visit counter showing the time in Moscow" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.source="${APP_SOURCE}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=busybox /bin/busybox /bin/busybox
# `cat` is the only applet linked: `kubectl exec <pod> -- cat /app/data/visits`.
# /app/data is created here, owned by the numeric runtime user, so a fresh volume
# mounted there inherits that ownership.
RUN ["/bin/busybox", "sh", "-c", "set -e; ln -s busybox /bin/cat; mkdir -p /app/data; chown 10001:10001 /app/data; chmod 0750 /app/data"]
COPY --from=app-binary /app-rust /usr/local/bin/app-rust
ENV PATH=/usr/local/bin:/bin \
    DATA_DIR=/app/data \
    APP_LISTEN=0.0.0.0:8080
WORKDIR /app
USER 10001:10001
VOLUME ["/app/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/app-rust"]
CMD ["serve"]
