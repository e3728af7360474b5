# syntax=docker/dockerfile:1
# Isotope Sessions: multi-stage build, production dependencies only, non-root, health-checked.
# The service runs TypeScript through tsx (a production dependency), so there is no compile step.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=50051 \
    ISOTOPE_DATA_DIR=/data \
    ISOTOPE_SPOOL_DIR=/data/spool
# V8 grows its heap lazily: without a bound a RestoreStream of 850,000 sessions peaks at ~320 MB
# RSS, with this one at ~200 MB (bench/RESULTS.md). Keep it above 2 x cache_bytes + 64 MB.
ENV NODE_OPTIONS=--max-old-space-size=192
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY gen ./gen
COPY src ./src
COPY scripts/healthcheck.mjs ./scripts/healthcheck.mjs
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 50051
# grpc.health.v1.Health/Check over gRPC: healthy only while the database answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "scripts/healthcheck.mjs"]
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/main.ts"]
