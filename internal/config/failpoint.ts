/**
 * Faults the tests inject into a real process through `SEQUENCER_FAILPOINT`, never set in
 * production:
 *
 * - `api-worker-crash-on-capture`: an API worker dies of an uncaught error when a profile capture
 *   starts in it, as a bug would;
 * - `exit-blocks`: with OpenTelemetry metrics on, the final exit blocks the main thread for good,
 *   as Deno's exporter flush can (see `telemetry/exit.ts`), and the watchdog's limit is 1 s.
 *
 * @module
 */

/** The environment variable naming the failpoint. */
export const FAILPOINT_ENV = "SEQUENCER_FAILPOINT";

/** The failpoints there are. */
export type Failpoint = "api-worker-crash-on-capture" | "exit-blocks";

/** Whether `name` is the failpoint this process runs with (never, without env permission). */
export function failpointIs(name: Failpoint): boolean {
  try {
    return Deno.env.get(FAILPOINT_ENV) === name;
  } catch {
    return false;
  }
}
