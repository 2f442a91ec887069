/**
 * Opens the store a configuration names: the embedded one (on its own thread) or PostgreSQL,
 * into which an embedded store left in `DATA_DIR` is merged first.
 *
 * @module
 */
import type { Logger } from "../log/log.ts";
import { mergeEmbeddedStore } from "./move_embedded.ts";
import { openPostgresStore } from "./postgres_store.ts";
import { redactUrl } from "./postgres_url.ts";
import { openSqliteStore } from "./sqlite_thread.ts";
import type { Store, StoreConfig } from "./store.ts";

/**
 * Opens the store of `config`. For PostgreSQL, an embedded store in `config.dataDir` is merged in
 * (raise-only) and marked as moved before the store is returned.
 * @throws when it cannot be opened (a corrupt file, PostgreSQL unreachable, a foreign schema, an
 * embedded store that cannot be merged).
 */
export async function openStore(config: StoreConfig, options: { logger: Logger }): Promise<Store> {
  if (config.kind === "postgres") {
    const store = await openPostgresStore(config.url, {
      poolSize: config.poolSize,
      logger: options.logger,
    });
    try {
      await mergeEmbeddedStore(store, config.dataDir, {
        where: redactUrl(config.url),
        logger: options.logger,
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }
  return await openSqliteStore(config.dataDir, { logger: options.logger });
}
