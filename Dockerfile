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

# Least privilege: network (listen, PostgreSQL), environment, system info for host name and
# profiling, read of the app and the data, write of the data only.
CMD ["run", "--cached-only", "--unstable-net", "--allow-net", "--allow-env", "--allow-sys", \
     "--allow-read=/app,/data", "--allow-write=/data", "cmd/app/main.ts"]
