/**
 * The embedded store on a thread of its own. SQLite's calls are synchronous and a commit waits for
 * an fsync; run on the main thread they would stall the debug server's probes under a heavy batch
 * load. Here every call crosses to `sqlite_worker.ts`. A thread that dies fails its pending calls
 * as `unavailable` and is started again (with all of the store's checks) on the next call.
 *
 * @module
 */
import { unavailable } from "../domain/domain.ts";
import type { Logger } from "../log/log.ts";
import { connectRpc, forward, type Remote, type RpcClient } from "../rpc/rpc.ts";
import { type Store, STORE_OPERATIONS } from "./store.ts";
import type { SqliteWorkerMessage, SqliteWorkerReply } from "./sqlite_worker.ts";

/** Milliseconds one store call may take before it fails as `unavailable`. */
const CALL_TIMEOUT_MS = 30_000;

interface Thread {
  worker: Worker;
  rpc: RpcClient<Store>;
  closed: Promise<void>;
}

/** The thread serving the embedded store. */
class SqliteThread {
  readonly #dataDir: string;
  readonly #logger: Logger | undefined;
  #thread: Thread | undefined;
  #starting: Promise<Thread> | undefined;
  #closed = false;

  constructor(dataDir: string, logger: Logger | undefined) {
    this.#dataDir = dataDir;
    this.#logger = logger;
  }

  /** Starts the thread and opens the store in it; rejects with the store's own message. */
  start(): Promise<Thread> {
    this.#starting ??= this.#spawn().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  #spawn(): Promise<Thread> {
    const worker = new Worker(new URL("./sqlite_worker.ts", import.meta.url), { type: "module" });
    let onClosed = () => {};
    const closed = new Promise<void>((resolve) => (onClosed = resolve));
    return new Promise<Thread>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<SqliteWorkerReply>) => {
        const reply = event.data;
        if (reply.type === "opened") resolve(this.#thread = thread);
        else if (reply.type === "failed") {
          worker.terminate();
          reject(unavailable(reply.message));
        } else if (reply.type === "closed") onClosed();
        else if (reply.type === "fail-closed") {
          this.#logger?.error("store failed closed: no more numbers until restarted", {
            store: "sqlite",
            error: reply.message,
          });
        } else if (reply.type === "warning") {
          this.#logger?.warn("store warning", { store: "sqlite", error: reply.message });
        }
      };
      const rpc = connectRpc<Store>(worker, STORE_OPERATIONS, {
        peer: "the store thread",
        timeoutMs: CALL_TIMEOUT_MS,
      });
      const thread: Thread = { worker, rpc, closed };
      worker.onerror = (event) => {
        event.preventDefault();
        const message = `the store thread stopped: ${event.message}`;
        this.#logger?.error("store thread crashed; it is restarted on the next call", {
          error: event.message,
        });
        if (this.#thread === thread) this.#thread = undefined;
        rpc.failAll(unavailable(message));
        worker.terminate();
        onClosed();
        reject(unavailable(message));
      };
      worker.postMessage({ type: "open", dataDir: this.#dataDir } satisfies SqliteWorkerMessage);
    });
  }

  async #remote(): Promise<RpcClient<Store>["remote"]> {
    if (this.#closed) throw unavailable("sqlite store: the store is closed");
    return (this.#thread ?? await this.start()).rpc.remote;
  }

  /** The store's operations, each forwarded to the thread (started again if it died). */
  readonly operations: Remote<Pick<Store, (typeof STORE_OPERATIONS)[number]>> = forward(
    STORE_OPERATIONS,
    () => this.#remote(),
  );

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const thread = this.#thread ?? await this.#starting?.catch(() => undefined);
    if (thread === undefined) return;
    thread.worker.postMessage({ type: "close" } satisfies SqliteWorkerMessage);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([thread.closed, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
    thread.rpc.failAll(unavailable("sqlite store: the store is closed"));
    thread.worker.terminate();
    this.#thread = undefined;
  }
}

/**
 * Opens the embedded store in `dataDir` on a thread of its own (see `sqlite_store.ts` for what is
 * checked).
 * @throws {SequencerError} `unavailable` with the store's message when it cannot be opened.
 */
export async function openSqliteStore(
  dataDir: string,
  options: { logger?: Logger } = {},
): Promise<Store> {
  const thread = new SqliteThread(dataDir, options.logger);
  await thread.start();
  return { kind: "sqlite", ...thread.operations, close: () => thread.close() };
}
