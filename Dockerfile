# Gregor's image. `docker build -t gregor .` then `docker compose up -d` (docker-compose.yml).
#
# The build stage installs every dependency, compiles the TypeScript and prunes the dev
# dependencies; the runtime stage holds only what a node runs: each package's dist and package.json,
# the pruned node_modules and proto/ (the gRPC schemas, read at start-up). It runs as the image's
# non-root `node` user; data lives in /var/lib/gregor/data (mount a volume there).

FROM node:20-bookworm AS build
WORKDIR /opt/gregor
# The one native addon without a prebuilt binary for this platform (zstd-napi) compiles at install,
# against the headers the node image ships: node-gyp then downloads nothing.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# Every workspace's package.json (scripts/check-boundaries.mjs checks that none is missing).
COPY packages/broker/package.json packages/broker/
COPY packages/chaos/package.json packages/chaos/
COPY packages/cli/package.json packages/cli/
COPY packages/client/package.json packages/client/
COPY packages/ground/package.json packages/ground/
COPY packages/group/package.json packages/group/
COPY packages/metadata/package.json packages/metadata/
COPY packages/protocol/package.json packages/protocol/
COPY packages/raft/package.json packages/raft/
COPY packages/replication/package.json packages/replication/
COPY packages/sim/package.json packages/sim/
COPY packages/storage/package.json packages/storage/
COPY packages/testkit/package.json packages/testkit/
COPY packages/txn/package.json packages/txn/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY proto proto
COPY packages packages
COPY scripts/check-native-modules.mjs scripts/
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && node scripts/check-native-modules.mjs \
  && mkdir -p /opt/runtime/packages \
  && cp -a package.json node_modules proto /opt/runtime/ \
  && for dir in packages/*; do \
       mkdir -p "/opt/runtime/$dir" \
       && cp -a "$dir/package.json" "$dir/dist" "/opt/runtime/$dir/" \
       && if [ -d "$dir/node_modules" ]; then cp -a "$dir/node_modules" "/opt/runtime/$dir/"; fi; \
     done \
  && find /opt/runtime/packages -path '*/dist/*' \( -name '*.test.js' -o -name '*.test.d.ts' -o -name '*.map' \) -delete

FROM node:20-bookworm-slim
LABEL org.opencontainers.image.title="Gregor" \
      org.opencontainers.image.description="A Kafka-compatible, multi-node streaming broker for Node.js"
ENV NODE_ENV=production \
    GREGOR_LOG_FORMAT=json \
    GREGOR_PROTO_DIR=/opt/gregor/proto
WORKDIR /opt/gregor
# jemalloc, which docker/entrypoint.sh preloads into the broker with `-e GREGOR_ALLOCATOR=jemalloc`:
# it returns freed pages to the kernel where glibc's malloc keeps them (packages/broker/README.md,
# "The allocator").
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libjemalloc2 \
  && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/runtime/ /opt/gregor/
COPY docker/server.properties /opt/gregor/config/server.properties
COPY docker/healthcheck.mjs /opt/gregor/docker/healthcheck.mjs
COPY docker/entrypoint.sh /opt/gregor/docker/entrypoint.sh
RUN ln -s /opt/gregor/packages/cli/dist/main.js /usr/local/bin/gregor \
  && chmod 0755 /opt/gregor/packages/cli/dist/main.js \
  && mkdir -p /var/lib/gregor/data \
  && chown -R node:node /var/lib/gregor
USER node
# 9092: Kafka clients (PLAINTEXT_HOST in the default settings); 19092: PLAINTEXT; 9093: CONTROLLER
# (Gregor's gRPC between nodes); 9404: metrics and health (/metrics, /healthz, /readyz).
EXPOSE 9092 19092 9093 9404
# Ready means registered with the controller, unfenced and serving: /readyz on the metrics port.
# (Docker runs this; podman without systemd does not: wait for readiness with `kcat -L` there.)
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "/opt/gregor/docker/healthcheck.mjs"]
# Settings: /opt/gregor/config/server.properties (apache/kafka's single-node defaults), overridden
# by KAFKA_* / CLUSTER_ID (the apache/kafka image's convention) and GREGOR_CFG_* variables.
# `gregor`'s shebang starts Node with the broker's flags (`--max-semi-space-size=4`, a small young
# generation: packages/broker/README.md, "Resident memory"; `--initial-old-space-size=64`, a floor
# under V8's old-generation limit: "One broker at twice the CPU"). A command-line flag wins over NODE_OPTIONS:
# another value needs `--entrypoint node` and `--max-semi-space-size=N /opt/gregor/packages/cli/dist/main.js
# broker start ...`. docker/entrypoint.sh runs `gregor`, on glibc's malloc unless
# `-e GREGOR_ALLOCATOR=jemalloc` (LD_PRELOAD; MALLOC_CONF background_thread:true,dirty_decay_ms:1000
# unless `-e MALLOC_CONF=...` is given). `-e MALLOC_ARENA_MAX=2` limits glibc's malloc arenas.
ENTRYPOINT ["/opt/gregor/docker/entrypoint.sh", "broker", "start"]
CMD ["--config", "/opt/gregor/config/server.properties"]
