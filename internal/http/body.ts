/**
 * Reading request bodies within a size limit.
 *
 * @module
 */
import { SequencerError } from "../domain/domain.ts";

/**
 * The body as text. Reading stops, and the answer is a `too_large` error, as soon as more than
 * `limit` bytes arrived.
 */
export async function readBody(req: Request, limit: number): Promise<string> {
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new SequencerError("too_large", `request body is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
