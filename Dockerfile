# syntax=docker/dockerfile:1
# dcr-bridge container image.
#   docker build -t dcr-bridge .
# CI has no Docker engine: tests/it/deploy_files.rs checks this file statically (HEALTHCHECK is a
# real subcommand, .dockerignore keeps target/ and node_modules out of the build context).
#
# Stages: `chef` (the toolchain + cargo-chef), `planner` (the dependency recipe), `build` (the
# dependencies, cached as their own layer until Cargo.toml/Cargo.lock change, then the crate),
# and the runtime: distroless `cc` (glibc + libgcc, CA certificates, no shell, no package
# manager), running as the image's `nonroot` user 65532.

FROM rust:1-bookworm AS chef
# cargo-chef turns the manifests into a recipe so that dependencies build in a layer that
# source changes do not invalidate (a dummy-main build would have to mirror every target).
RUN cargo install cargo-chef --locked --version ~0.1
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --bin dcr-bridge --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin dcr-bridge \
 && strip target/release/dcr-bridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/dcr-bridge /usr/local/bin/dcr-bridge
# The working directory holds the default SQLite database (sqlite://dcr-bridge.db): created in
# the build stage and copied owned by the user that runs, so that user can write it. Mount a
# volume there for a single node on SQLite (`-v dcr-data:/data`: a new named volume starts with
# this directory's owner). No VOLUME instruction: replicas on Postgres need none.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
EXPOSE 8080
# `dcr-bridge healthcheck` GETs /readyz on the configured `listen` port over loopback and
# exits 0 or 1: no shell or curl needed. Other roles of this image (dev-idp, demo-mcp) pass
# `healthcheck --url …` in their own healthcheck (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=8s --start-period=30s --retries=3 \
  CMD ["dcr-bridge", "healthcheck"]
ENTRYPOINT ["dcr-bridge"]
CMD ["serve"]
