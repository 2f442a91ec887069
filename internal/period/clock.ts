/**
 * The clock that decides periods: the system's wall clock (`Date.now()`, ms since the epoch).
 *
 * Tests of real processes shift it with `SEQUENCER_CLOCK_OFFSET_MS` (a whole number of
 * milliseconds, possibly negative), so that a service can start a few seconds before a year
 * boundary and be watched crossing it. It is a test-only variable, never set in production: the
 * service's permission flags do not even allow it to be read, and reading it without permission
 * (or an invalid value) leaves the clock unshifted.
 *
 * @module
 */

/** The test-only variable that shifts the clock of a process (see the module documentation). */
export const CLOCK_OFFSET_ENV = "SEQUENCER_CLOCK_OFFSET_MS";

/** Largest shift accepted: about 300 years, far inside the range of `Date`. */
const OFFSET_MAX = 10_000_000_000_000;

/** The shift `SEQUENCER_CLOCK_OFFSET_MS` asks for, 0 when unset, unreadable or invalid. */
export function clockOffsetMs(): number {
  let text: string | undefined;
  try {
    text = Deno.env.get(CLOCK_OFFSET_ENV);
  } catch {
    return 0; // no env permission for it: the real clock
  }
  if (text === undefined || !/^-?[0-9]{1,14}$/.test(text)) return 0;
  const offset = Number(text);
  return Math.abs(offset) <= OFFSET_MAX ? offset : 0;
}

/** This process's clock in ms since the epoch: `Date.now()`, shifted only in tests. */
export function processClock(): () => number {
  const offset = clockOffsetMs();
  return offset === 0 ? () => Date.now() : () => Date.now() + offset;
}
