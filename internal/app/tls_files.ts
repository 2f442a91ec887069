/**
 * The certificate chain and private key of `TLS_CERT_FILE` and `TLS_KEY_FILE`, read once at
 * startup (before anything listens) and handed to both listeners as PEM text. A file that cannot
 * be read or is not PEM of the right kind is one error naming the variable, the file and the
 * rule; a pair the TLS library refuses (a key that does not match the certificate, a broken
 * certificate) is reported the same way by {@link tlsListenError} when the first listener starts.
 *
 * @module
 */
import type { TlsFiles } from "../config/config.ts";
import { errorText } from "../domain/domain.ts";

/** A certificate chain and its key, PEM. */
export interface TlsPem {
  /** Certificate chain, leaf first. */
  cert: string;
  /** Private key. */
  key: string;
}

/** The TLS files cannot be used; the message names the variables, the files and the rule. */
export class TlsFilesError extends Error {
  /** @param message one line naming the variable, the file and the rule. */
  constructor(message: string) {
    super(message);
    this.name = "TlsFilesError";
  }
}

const CERTIFICATE = "-----BEGIN CERTIFICATE-----";
const PRIVATE_KEY = /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

async function read(variable: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new TlsFilesError(`${variable}=${path} cannot be read: ${errorText(error)}`);
  }
}

/**
 * Reads both files.
 * @throws {TlsFilesError} when one cannot be read or holds no PEM block of its kind.
 */
export async function readTlsFiles(files: TlsFiles): Promise<TlsPem> {
  const [cert, key] = await Promise.all([
    read("TLS_CERT_FILE", files.certFile),
    read("TLS_KEY_FILE", files.keyFile),
  ]);
  if (!cert.includes(CERTIFICATE)) {
    throw new TlsFilesError(
      `TLS_CERT_FILE=${files.certFile} is not a PEM certificate chain: ` +
        `must hold "${CERTIFICATE}" blocks, the server's certificate first`,
    );
  }
  if (!PRIVATE_KEY.test(key)) {
    throw new TlsFilesError(
      `TLS_KEY_FILE=${files.keyFile} is not a PEM private key: ` +
        `must hold a "-----BEGIN PRIVATE KEY-----" block (PKCS#8, or RSA/EC)`,
    );
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(key)) {
    throw new TlsFilesError(
      `TLS_KEY_FILE=${files.keyFile} is encrypted: the key must be unencrypted PEM ` +
        `(protect it with file permissions)`,
    );
  }
  return { cert, key };
}

/**
 * The error of a TLS listener that could not start, as one line naming the files when the TLS
 * library refused them; other failures (the port is taken, not allowed) are returned as they are.
 */
export function tlsListenError(error: unknown, files: TlsFiles): unknown {
  const listening = error instanceof Deno.errors.AddrInUse ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied;
  if (listening) return error;
  return new TlsFilesError(
    `TLS_CERT_FILE=${files.certFile} and TLS_KEY_FILE=${files.keyFile} cannot serve HTTPS: ` +
      `${errorText(error)} (the key must be the certificate's, unencrypted PEM)`,
  );
}
