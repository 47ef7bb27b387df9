# syntax=docker/dockerfile:1.7
# One image for every role: the entrypoint is `zinovia`, the command picks the role
# (`serve --role web`, `serve --role api`, `worker`, `migrate`). Built with the locked
# dependencies, libjpeg-turbo (`turbojpeg`, which needs cmake and nasm) and libheif for
# HEIC/AVIF photos (`heif`: built from source with cmake against the system's libde265 and
# dav1d decoders), as CI builds it.
#
#   docker build -t zinovia .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=... zinovia serve --role all

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake nasm pkg-config libssl-dev make g++ \
      libde265-dev libdav1d-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The query metadata in .sqlx/ is checked at compile time; no database is needed here.
ENV SQLX_OFFLINE=true
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --features zinovia/turbojpeg,zinovia/heif -p zinovia --bin zinovia \
 && install -m 0755 target/release/zinovia /usr/local/bin/zinovia

FROM debian:bookworm-slim AS runtime
# ffmpeg/ffprobe for the worker's videos (which also bring libde265 and dav1d, the HEIC and
# AVIF decoders libheif links to, named here as well); curl for the health check; ca-certificates for
# TLS to RDS, ElastiCache, S3 and Stripe; tini reaps ffmpeg children and forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates ffmpeg libde265-0 libdav1d6 curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 zinovia \
 && useradd --system --uid 10001 --gid zinovia --home-dir /var/lib/zinovia --create-home --shell /usr/sbin/nologin zinovia
COPY --from=build /usr/local/bin/zinovia /usr/local/bin/zinovia
USER 10001:10001
WORKDIR /var/lib/zinovia
ENV DATA_DIR=/var/lib/zinovia \
    BIND_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    FFPROBE_PATH=/usr/bin/ffprobe
EXPOSE 8080
# Liveness of the HTTP roles under Docker; ECS task definitions declare their own checks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/zinovia"]
CMD ["serve", "--role", "all"]
