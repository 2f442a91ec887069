/**
 * Reading request bodies within a size limit.
 *
 * @module
 */
import { SequencerError } from "../domain/domain.ts";

/** Limits of {@link readBody}. */
export interface BodyLimits {
  /** Most bytes accepted. */
  maxBytes: number;
  /** Milliseconds the whole body has to arrive. */
  timeoutMs: number;
}

/**
 * The body as text. Reading stops with a `too_large` error as soon as more than `maxBytes`
 * arrived, and with a `request_timeout` error when the body has not fully arrived within
 * `timeoutMs` (the server then closes the connection).
 */
export async function readBody(req: Request, limits: BodyLimits): Promise<string> {
  if (req.body === null) return "";
  const limit = limits.maxBytes;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), limits.timeoutMs);
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), expired]);
      if (next === "expired") {
        reader.cancel().catch(() => {});
        throw new SequencerError(
          "request_timeout",
          `request body did not arrive within ${limits.timeoutMs / 1000} s`,
        );
      }
      const { done, value } = next;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        reader.cancel().catch(() => {});
        throw new SequencerError("too_large", `request body is larger than ${limit} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
