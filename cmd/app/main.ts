/**
 * Sequencer: hands out unique sequence numbers over HTTP.
 *
 * Thin on purpose: read the config, start the service, wait for SIGINT or SIGTERM, shut down.
 *
 * @module
 */
import { ConfigError, loadConfig } from "../../internal/config/config.ts";
import { createLogger } from "../../internal/log/log.ts";
import { startApp } from "../../internal/app/app.ts";
import { commandLine } from "../../internal/profiling/cmdline.ts";
import { exitProcess } from "../../internal/telemetry/exit.ts";

const logger = createLogger();

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`sequencer: invalid configuration: ${error.message}`);
  Deno.exit(1);
}

// Listen for signals before starting, so one that arrives during startup still shuts down
// gracefully once the servers are up.
const signal = new Promise<Deno.Signal>((resolve) => {
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => resolve(name));
  }
});
// SIGHUP re-reads AUTH_TOKENS_FILE (and never ends the process); one that arrives during startup
// is acted on once the service is up.
const sighup: { reload?: () => void; pending: boolean } = { pending: false };
Deno.addSignalListener("SIGHUP", () => sighup.reload ? sighup.reload() : (sighup.pending = true));

const app = await startApp(config, logger, { cmdline: commandLine() }).catch((error) => {
  logger.error("startup failed", { error });
  console.error(`sequencer: startup failed: ${(error as Error).message}`);
  return exitProcess(1, logger);
});

sighup.reload = () => void app.reloadTokens();
if (sighup.pending) sighup.reload();
const outcome = await app.shutdown(await signal);
await exitProcess(outcome === "graceful" ? 0 : 1, logger);
