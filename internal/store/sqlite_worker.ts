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

/**
 * What the thread answers to `open` and `close`; and, unasked, `fail-closed` once the store
 * starts refusing everything (its file vanished) and `warning` for trouble that does not stop it.
 */
export type SqliteWorkerReply =
  | { type: "opened" }
  | { type: "failed"; message: string }
  | { type: "closed" }
  | { type: "fail-closed"; message: string }
  | { type: "warning"; message: string };

function serveStoreThread(scope: typeof self): void {
  let store: SqliteStore | undefined;
  scope.onmessage = async (event: MessageEvent<SqliteWorkerMessage>) => {
    const message = event.data;
    if (message.type === "open") {
      try {
        store = await openSqliteStoreHere(message.dataDir, {
          onFailClosed: (text) =>
            scope.postMessage({ type: "fail-closed", message: text } satisfies SqliteWorkerReply),
          onWarning: (text) =>
            scope.postMessage({ type: "warning", message: text } satisfies SqliteWorkerReply),
        });
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
