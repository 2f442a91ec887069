/**
 * The watchdog thread of `exit.ts`: told a limit, it answers that it is armed; if the process
 * still exists when the limit has passed, it logs the line it was given and kills the process.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import process from "node:process";
import type { WatchdogOrder } from "./exit.ts";

self.onmessage = (event: MessageEvent<WatchdogOrder>) => {
  const { limitMs, line } = event.data;
  setTimeout(() => {
    console.error(line);
    process.kill(process.pid, "SIGKILL");
  }, limitMs);
  self.postMessage("armed");
};
