/**
 * Helpers of the client tests: real service processes on temporary folders, freezing a process
 * (SIGSTOP: its port still accepts connections but nothing answers; needs `ps` from procps),
 * polling to a deadline, and checking a call's error code.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ServiceProcess, startService } from "../../../internal/launch/service.ts";
import { SequencerClientError } from "../mod.ts";

/** Generous deadline of every poll: the machine is shared and may be very slow. */
export const DEADLINE_MS = 120_000;

/** A predicate for `assert.rejects`: a client error with `code` (and `status`, when given). */
export function coded(code: string, status?: number): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof SequencerClientError, `not a SequencerClientError: ${error}`);
    assert.equal(error.code, code, error.message);
    if (status !== undefined) assert.equal(error.status, status);
    return true;
  };
}

/** Polls `probe` until it returns a value other than `undefined`; fails after {@link DEADLINE_MS}. */
export async function poll<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A service on a fresh data folder, for the length of `fn`; SIGKILLed and removed after it. */
export async function withService(
  env: Record<string, string>,
  fn: (service: ServiceProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-client-" });
  const service = await startService({ DATA_DIR: dir, LOCK_DIR: dir, WORKERS: "2", ...env });
  try {
    await fn(service);
  } finally {
    service.kill("SIGCONT"); // in case a step left it frozen
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Suspends the process (SIGSTOP) and resolves once every one of its threads is stopped (read
 * with `ps`): a thread can still answer a request for a moment after the signal is sent. Then
 * connections are accepted by the kernel and never answered.
 */
export async function freeze(service: ServiceProcess): Promise<void> {
  service.kill("SIGSTOP");
  await poll(`every thread of process ${service.pid} is stopped`, async () => {
    const output = await new Deno.Command("ps", {
      args: ["-L", "-o", "stat=", "-p", String(service.pid)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const states = new TextDecoder().decode(output.stdout).trim().split(/\s+/);
    return (output.success && states.every((state) => state.startsWith("T"))) || undefined;
  });
}

/** Resumes a frozen process. */
export function thaw(service: ServiceProcess): void {
  service.kill("SIGCONT");
}
