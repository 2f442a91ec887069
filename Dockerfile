# Sequencer: unique sequence numbers over HTTP.
FROM denoland/deno:debian-2.9.6

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when deno.json or deno.lock change.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY cmd/ cmd/
COPY internal/ internal/
RUN deno cache --frozen cmd/app/main.ts internal/workers/api_worker.ts

# The embedded store lives in /data: mount a volume there to keep numbers unique across
# container restarts (without one, a new container starts a new sequence).
RUN mkdir -p /data && chown deno:deno /data
VOLUME /data

ENV API_PORT=3000 \
    DEBUG_PORT=3001 \
    SHUTDOWN_TIMEOUT_SEC=20 \
    ENVIRONMENT=development \
    DATA_DIR=/data

EXPOSE 3000 3001
USER deno

# Liveness, not readiness: a replica whose store is down is alive and recovers by itself, so it
# must not be marked unhealthy (and restarted by an orchestrator) for that. The debug server must
# listen on loopback or all addresses (DEBUG_HOST) for this check to reach it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('DEBUG_PORT') ?? '3001'}/debug/liveness`); await r.body?.cancel(); Deno.exit(r.ok ? 0 : 1)"]

# Least privilege: network (listen, PostgreSQL), environment, system info for host name and
# profiling, read of the app and the data, write of the data only.
CMD ["run", "--cached-only", "--unstable-net", "--allow-net", "--allow-env", "--allow-sys", \
     "--allow-read=/app,/data", "--allow-write=/data", "cmd/app/main.ts"]
