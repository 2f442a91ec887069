/**
 * The watchdog thread of `exit.ts`: told a limit, it answers that it is armed; if the process
 * still exists when the limit has passed, it logs one error line and kills the process.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import process from "node:process";
import { createLogger } from "../log/log.ts";
import type { WatchdogOrder } from "./exit.ts";

self.onmessage = (event: MessageEvent<WatchdogOrder>) => {
  const { limitMs, code } = event.data;
  setTimeout(() => {
    createLogger().error("exit blocked in the runtime's OpenTelemetry flush; ending the process", {
      code,
      limitMs,
    });
    process.kill(process.pid, "SIGKILL");
  }, limitMs);
  self.postMessage("armed");
};
