/**
 * The thread of the embedded store: opens `sequencer.db` and answers the store's calls, so that
 * SQLite's blocking commits never hold up the thread that serves probes and the owner.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { errorText } from "../domain/domain.ts";
import { serveRpc } from "../rpc/rpc.ts";
import { openSqliteStoreHere, type SqliteStore } from "./sqlite_store.ts";
import { STORE_OPERATIONS } from "./store.ts";

/** The first message: where the store is. Later messages are calls, or `close`. */
export type SqliteWorkerMessage = { type: "open"; dataDir: string } | { type: "close" };

/** What the thread answers to `open` and `close`. */
export type SqliteWorkerReply =
  | { type: "opened" }
  | { type: "failed"; message: string }
  | { type: "closed" };

function serveStoreThread(scope: typeof self): void {
  let store: SqliteStore | undefined;
  scope.onmessage = async (event: MessageEvent<SqliteWorkerMessage>) => {
    const message = event.data;
    if (message.type === "open") {
      try {
        store = await openSqliteStoreHere(message.dataDir);
        serveRpc(scope, store, STORE_OPERATIONS);
        scope.postMessage({ type: "opened" } satisfies SqliteWorkerReply);
      } catch (error) {
        scope.postMessage(
          { type: "failed", message: errorText(error) } satisfies SqliteWorkerReply,
        );
      }
    } else if (message.type === "close") {
      await store?.close();
      scope.postMessage({ type: "closed" } satisfies SqliteWorkerReply);
    }
  };
}

serveStoreThread(self);
