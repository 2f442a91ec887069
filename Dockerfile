# Sequencer: unique sequence numbers over HTTP.
FROM denoland/deno:debian-2.9.6

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when deno.json or deno.lock change.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY cmd/ cmd/
COPY internal/ internal/
RUN deno cache --frozen cmd/app/main.ts internal/app/api_worker.ts internal/store/sqlite_worker.ts \
      cmd/permissions/main.ts

# The embedded store lives in /data: mount a volume there to keep numbers unique across
# container restarts (without one, a new container starts a new sequence).
RUN mkdir -p /data && chown deno:deno /data
VOLUME /data

# DEBUG_HOST: natively the debug port listens on loopback only; in a container it must listen on
# every address so that `-p 3001:3001`, the orchestrator's probes and Prometheus reach it.
ENV API_PORT=3000 \
    DEBUG_PORT=3001 \
    DEBUG_HOST=0.0.0.0 \
    SHUTDOWN_TIMEOUT_SEC=20 \
    ENVIRONMENT=development \
    DATA_DIR=/data

EXPOSE 3000 3001
USER deno

# Liveness, not readiness: a replica whose store is down is alive and recovers by itself, so it
# must not be marked unhealthy (and restarted by an orchestrator) for that. The debug server must
# listen on loopback or all addresses (DEBUG_HOST) for this check to reach it. With TLS_CERT_FILE
# set it asks over HTTPS; the certificate names the service, not 127.0.0.1, so it is not verified
# for this one loopback call.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "--unsafely-ignore-certificate-errors=127.0.0.1", "const s = Deno.env.get('TLS_CERT_FILE') ? 'https' : 'http'; const r = await fetch(`${s}://127.0.0.1:${Deno.env.get('DEBUG_PORT') ?? '3001'}/debug/liveness`); await r.body?.cancel(); Deno.exit(r.ok ? 0 : 1)"]

# Least privilege, as `deno task run`: cmd/permissions/main.ts prints the flags for the
# configuration in the environment: read /app/cmd, /app/internal, the Deno cache, DATA_DIR (/data),
# the API port's lock file and the token and TLS files; write DATA_DIR and the lock file only;
# net for the two listeners and the PostgreSQL hosts of DATABASE_URL; env for the documented
# variables; sys (V8's inspector for profiling cannot be named alone). `exec` leaves deno as the
# process that gets the signals.
CMD ["sh", "-c", "exec deno run --cached-only --unstable-net --no-prompt $(deno run --cached-only --no-prompt --allow-env cmd/permissions/main.ts) cmd/app/main.ts"]
