/**
 * One process per API port. The API's worker threads share their port (`SO_REUSEPORT`), and the
 * kernel would let a second copy of the service (same user) join that group too and split the
 * clients between two stores: the same numbers answered twice. So before binding, a process
 * claims the port: an exclusive lock on `LOCK_DIR/sequencer-api-<port>.lock` (released by the
 * kernel when the process ends, even on `kill -9`), then a bind without `SO_REUSEPORT`, which
 * fails while anything else listens on the port.
 *
 * @module
 */
import { errorText } from "../domain/domain.ts";

/** A port this process holds; release it at shutdown. */
export interface PortClaim {
  /** Unlocks and closes the lock file. */
  release(): void;
}

/** Options of {@link claimPort}. */
export interface ClaimOptions {
  /** Address the API binds. */
  hostname: string;
  /** Folder of the lock files (`LOCK_DIR`). */
  lockDir: string;
  /** Milliseconds to wait for the lock before deciding another process holds it. */
  waitMs?: number;
}

/** The port is served by another process: the message names the port and that process. */
export class PortTakenError extends Error {
  /** @param message one line naming the port and the other process. */
  constructor(message: string) {
    super(message);
    this.name = "PortTakenError";
  }
}

/**
 * Claims `port` for this process.
 * @throws {PortTakenError} another sequencer holds the lock, or another program listens on it.
 */
export async function claimPort(port: number, options: ClaimOptions): Promise<PortClaim> {
  if (port === 0) return { release() {} };
  const path = `${options.lockDir}/sequencer-api-${port}.lock`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o644 });
  } catch (error) {
    throw new PortTakenError(
      `API_PORT=${port} cannot be claimed: lock file ${path} cannot be opened ` +
        `(${errorText(error)}); set LOCK_DIR to a folder this process may write`,
    );
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const locked = await Promise.race([
    file.lock(true).then(() => true),
    new Promise<false>((
      resolve,
    ) => (timer = setTimeout(() => resolve(false), options.waitMs ?? 1_000))),
  ]);
  clearTimeout(timer);
  if (!locked) {
    // The lock call stays pending in the runtime's thread pool; the process is about to exit.
    const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
    throw new PortTakenError(
      `API_PORT=${port} is already served by another sequencer process (${
        holder === "" ? "pid unknown" : holder
      }; lock ${path}): stop it or choose another API_PORT`,
    );
  }
  try {
    const probe = Deno.listen({ hostname: options.hostname, port, reusePort: false });
    probe.close();
  } catch (error) {
    file.close();
    throw new PortTakenError(
      `API_PORT=${port} is already in use by another program on ${options.hostname} ` +
        `(${errorText(error)}): stop it or choose another API_PORT`,
    );
  }
  await file.truncate(0);
  await file.write(
    new TextEncoder().encode(`pid ${Deno.pid}, since ${new Date().toISOString()}\n`),
  );
  return {
    release() {
      try {
        file.close();
      } catch { /* closed already */ }
    },
  };
}
