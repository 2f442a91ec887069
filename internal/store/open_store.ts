/**
 * Opens the store a configuration names: the embedded one (on its own thread) or PostgreSQL.
 *
 * @module
 */
import type { Logger } from "../log/log.ts";
import { openPostgresStore } from "./postgres_store.ts";
import { openSqliteStore } from "./sqlite_thread.ts";
import type { Store, StoreConfig } from "./store.ts";

/**
 * Opens the store of `config`.
 * @throws when it cannot be opened (a corrupt file, PostgreSQL unreachable, a foreign schema).
 */
export async function openStore(config: StoreConfig, options: { logger: Logger }): Promise<Store> {
  if (config.kind === "postgres") {
    return await openPostgresStore(config.url, {
      poolSize: config.poolSize,
      logger: options.logger,
    });
  }
  return await openSqliteStore(config.dataDir, { logger: options.logger });
}
