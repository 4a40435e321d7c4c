# Build: docker build -t dcr-bridge .   (not exercised in CI: no Docker engine on the CI machines)
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/dcr-bridge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/dcr-bridge /usr/local/bin/dcr-bridge
USER 65532:65532
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["dcr-bridge"]
CMD ["serve"]
