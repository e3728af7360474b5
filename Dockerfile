# syntax=docker/dockerfile:1
# Isotope Sessions: multi-stage build, production dependencies only, non-root, health-checked.
# `build` compiles the TypeScript with tsc and bundles the admin console with esbuild
# (scripts/build.mjs, as `npm start` does); the runtime image runs the compiled JavaScript with node
# and holds neither tsc, esbuild, tsx nor the sources.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/
COPY gen ./gen
COPY src ./src
COPY web ./web
RUN npm run build

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
# RSS, with a 192 MB bound at ~200 MB (bench/RESULTS.md). A full hot cache holds up to cache_bytes
# (128 MiB by default: an entry's counted cost covers its JSON text, on the heap, and its encoded
# answer, off it), so keep the bound at cache_bytes + 128 MB for the calls in flight beside it.
ENV NODE_OPTIONS=--max-old-space-size=256
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# package.json says "type": "module": node reads dist/**/*.js as ES modules because of it.
COPY package.json ./
# dist/src and dist/gen keep the repository's layout: migrations/*.sql and session.binpb are found
# by relative URLs from the compiled modules.
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/gen ./dist/gen
# The admin console (/admin): one script, its stylesheet and the HTML shell, needing no dependency.
COPY --from=build /app/dist/admin ./dist/admin
COPY scripts/healthcheck.mjs ./scripts/healthcheck.mjs
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 50051
# grpc.health.v1.Health/Check over gRPC: healthy only while the database answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "scripts/healthcheck.mjs"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
