/**
 * Reading one request header cheaply. `req.headers` copies every header of the request out of the
 * runtime on first use (about a microsecond per request, measured); the runtime's own request
 * object can read a single header by name. {@link createHeaderReader} uses that where it exists
 * (requests served by Deno) and `req.headers` otherwise.
 *
 * @module
 */

/** Reads the header `name` of `req`; `null` when absent. */
export type HeaderReader = (req: Request, name: string) => string | null;

type InnerRequest = { header?: (name: string) => string | null };

/** A {@link HeaderReader} for one thread (it remembers where the runtime keeps the request). */
export function createHeaderReader(): HeaderReader {
  let inner: symbol | null | undefined;
  return (req, name) => {
    if (inner === undefined) {
      inner = Object.getOwnPropertySymbols(req).find((s) => s.description === "request") ?? null;
    }
    if (inner !== null) {
      const raw = (req as unknown as Record<symbol, InnerRequest | undefined>)[inner];
      if (typeof raw?.header === "function") return raw.header(name);
    }
    return req.headers.get(name);
  };
}
