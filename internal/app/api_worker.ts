/**
 * Entry point of one API worker thread: attaches the shared sequence table, serves the API on the
 * shared port (`reusePort`: the kernel spreads connections over the workers), reports whether it
 * listens, and answers the main thread's control calls (profiles, traces, drain).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { SequenceTable } from "../atomicSequence/atomic_sequence.ts";
import { OWNER_OPERATIONS, type OwnerPort } from "../atomicSequence/owner.ts";
import { createSequences } from "../atomicSequence/sequences.ts";
import { type AccessControl, createAccessControl } from "../auth/guard.ts";
import { failpointIs } from "../config/failpoint.ts";
import { errorText } from "../domain/domain.ts";

import { createRouter } from "../http/router.ts";
import { startServer } from "../http/serve.ts";
import { createLogger } from "../log/log.ts";
import { captureCpuProfile, captureHeapProfile } from "../profiling/inspector_capture.ts";
import { Tracer, traceRequests } from "../profiling/trace.ts";
import { connectRpc, serveRpc } from "../rpc/rpc.ts";
import { type LineSink, logRequests, stdoutLines } from "../telemetry/access_log.ts";
import {
  type CaptureRequest,
  WORKER_CONTROL_OPERATIONS,
  type WorkerControl,
  type WorkerStart,
  type WorkerStatus,
} from "../workers/worker_control.ts";
import { apiRoutes } from "./routes.ts";

/** Milliseconds an owner call may take before the request gets 503. */
const OWNER_TIMEOUT_MS = 30_000;

function runApiWorker(scope: typeof self): void {
  const logger = createLogger();
  const tracer = new Tracer();
  const captures = new Map<number, AbortController>();
  const status = (message: WorkerStatus) => scope.postMessage(message);
  let server: ReturnType<typeof startServer> | undefined;
  /** The access log's lines (`LOG_REQUESTS`), written in batches. */
  let accessLog: LineSink | undefined;
  let access: AccessControl | undefined;
  const crashOnCapture = failpointIs("api-worker-crash-on-capture");

  const control: WorkerControl = {
    async capture(request: CaptureRequest) {
      if (crashOnCapture) {
        setTimeout(() => {
          throw new Error("failpoint api-worker-crash-on-capture");
        });
      }
      const abort = new AbortController();
      captures.set(request.id, abort);
      try {
        const window = { durationMs: request.durationMs, signal: abort.signal };
        const captured = request.kind === "cpu"
          ? await captureCpuProfile({ ...window, samplingIntervalMicros: request.samplingInterval })
          : await captureHeapProfile({
            ...window,
            samplingIntervalBytes: request.samplingInterval,
            includeCollected: request.includeCollected,
          });
        return captured.profile;
      } finally {
        captures.delete(request.id);
      }
    },
    abortCapture(id: number) {
      captures.get(id)?.abort();
    },
    traceStart(options) {
      if (!tracer.active) tracer.start(options);
    },
    traceStop() {
      return { doc: tracer.stop(), timeOrigin: performance.timeOrigin };
    },
    async shutdown() {
      for (const abort of captures.values()) abort.abort();
      await server?.shutdown();
      accessLog?.flush();
    },
    stats: () => server?.stats(),
    setTokens(tokens) {
      access?.replace(tokens);
    },
  };

  scope.onmessage = (event: MessageEvent<WorkerStart>) => {
    const start = event.data;
    if (start?.type !== "start") return;
    serveRpc(scope, control, WORKER_CONTROL_OPERATIONS);
    const rpc = connectRpc<OwnerPort>(start.owner, OWNER_OPERATIONS, {
      peer: "the sequence owner",
      timeoutMs: OWNER_TIMEOUT_MS,
    });
    const owner: OwnerPort = { ...rpc.remote, refill: (slot) => rpc.notify("refill", slot) };
    const sequences = createSequences(SequenceTable.attach(start.memory), owner);
    access = start.tokens === undefined ? undefined : createAccessControl(start.tokens);
    const router = createRouter(
      apiRoutes(sequences, {
        batchMax: start.batchMax,
        bodyTimeoutMs: start.bodyTimeoutMs,
        rates: start.rates,
      }),
      { logger, guard: access?.guard },
    );
    accessLog = start.logRequests === true ? stdoutLines() : undefined;
    try {
      server = startServer({
        port: start.port,
        hostname: start.hostname,
        reusePort: true,
        tls: start.tls,
        handler: traceRequests(
          tracer,
          accessLog === undefined ? router : logRequests(router, { sink: accessLog }),
        ),
        logger,
        name: `api worker ${start.index}`,
        limits: start.limits,
        onAccepting: (listening) => status({ type: "state", listening }),
      });
      status({ type: "listening", port: server.port });
    } catch (error) {
      status({ type: "failed", message: errorText(error) });
    }
  };
}

runApiWorker(self);
