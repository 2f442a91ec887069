/**
 * Maps line numbers of the JavaScript Deno runs back to the TypeScript source.
 *
 * V8 profiles give positions in the code V8 compiled: for a `.ts` module that is Deno's emitted
 * JavaScript (types stripped, re-printed), whose lines drift from the source. Deno keeps that
 * emit, with an inline source map, in its cache (`$DENO_DIR/gen/file/<path>.js`). This module
 * reads those maps ({@link loadLineMapper}, needing read access to the cache and env access for
 * `DENO_DIR`/`HOME`) and looks positions up ({@link parseSourceMap}, {@link originalLine}: pure).
 * Whenever a map is missing or unreadable the emitted line is kept.
 *
 * @module
 */

/** One decoded mapping segment: generated column → original line and column (all 0-based). */
export interface Segment {
  /** Column in the generated line. */
  generatedColumn: number;
  /** Line in the original source. */
  originalLine: number;
  /** Column in the original source. */
  originalColumn: number;
}

/** A decoded source map: segments per generated line, sorted by generated column. */
export type DecodedMap = Segment[][];

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Map([...BASE64].map((c, i) => [c, i]));

/**
 * Decodes a source map v3 `mappings` string. Segments without an original position (one field)
 * are skipped. Throws on a character outside base64 or a truncated value, naming the offset.
 */
export function decodeMappings(mappings: string): DecodedMap {
  const lines: DecodedMap = [];
  let line: Segment[] = [];
  // Field 1 (generated column) is relative within a line; the original line and column
  // (fields 3 and 4) are relative to the previous segment anywhere in the map. Fields 2 and 5
  // (source and name index) are not needed: an emitted module maps to its one source.
  let originalLine = 0;
  let originalColumn = 0;
  let generatedColumn = 0;
  let i = 0;
  const fields: number[] = [];
  const readValue = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= mappings.length) {
        throw new Error(`source map mappings: value truncated at offset ${i}`);
      }
      const digit = BASE64_VALUE.get(mappings[i]);
      if (digit === undefined) {
        throw new Error(
          `source map mappings: ${JSON.stringify(mappings[i])} at offset ${i} is not base64`,
        );
      }
      i++;
      result += (digit & 31) * 2 ** shift;
      shift += 5;
      if ((digit & 32) === 0) break;
    }
    const magnitude = Math.floor(result / 2);
    return result % 2 === 1 ? -magnitude : magnitude;
  };
  while (i <= mappings.length) {
    const c = mappings[i];
    if (i === mappings.length || c === ";") {
      lines.push(line);
      line = [];
      generatedColumn = 0;
      i++;
      continue;
    }
    if (c === ",") {
      i++;
      continue;
    }
    fields.length = 0;
    while (i < mappings.length && mappings[i] !== "," && mappings[i] !== ";") {
      fields.push(readValue());
    }
    generatedColumn += fields[0];
    if (fields.length >= 4) {
      originalLine += fields[2];
      originalColumn += fields[3];
      line.push({ generatedColumn, originalLine, originalColumn });
    }
  }
  for (const l of lines) l.sort((a, b) => a.generatedColumn - b.generatedColumn);
  return lines;
}

/** Extracts and decodes the inline (`data:` base64) source map of an emitted file. */
export function parseSourceMap(emitted: string): DecodedMap | undefined {
  const match = emitted.match(
    /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)/,
  );
  if (match === null) return undefined;
  const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
  const map = JSON.parse(new TextDecoder().decode(bytes)) as { mappings?: unknown };
  return typeof map.mappings === "string" ? decodeMappings(map.mappings) : undefined;
}

/**
 * The original 0-based line of a generated position: the segment at or before `column` on
 * `line`, else the line's first segment; `undefined` when the line has no segment.
 */
export function originalLine(map: DecodedMap, line: number, column: number): number | undefined {
  const segments = map[line];
  if (segments === undefined || segments.length === 0) return undefined;
  let best = segments[0];
  for (const s of segments) {
    if (s.generatedColumn > column) break;
    best = s;
  }
  return best.originalLine;
}

/** Maps a 0-based generated position of a script URL to a 0-based source line, if known. */
export type LineMapper = (url: string, line: number, column: number) => number | undefined;

/** Extensions Deno transpiles; plain `.js` runs as written and needs no map. */
const TRANSPILED = /\.(ts|mts|cts|tsx|jsx)$/;

/** Deno's cache directory: `DENO_DIR`, else the platform default; `undefined` if unknown. */
export function denoDir(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string | undefined {
  const explicit = env("DENO_DIR");
  if (explicit) return explicit;
  if (Deno.build.os === "windows") {
    const local = env("LOCALAPPDATA");
    return local ? `${local}\\deno` : undefined;
  }
  const home = env("HOME");
  if (Deno.build.os === "darwin") return home ? `${home}/Library/Caches/deno` : undefined;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/deno`;
  return home ? `${home}/.cache/deno` : undefined;
}

/**
 * Loads the source maps of Deno's cached emit for the given script URLs (only `file:` URLs of
 * transpiled files) and returns a mapper over them. Never throws: a URL whose map cannot be read
 * (no permission, no cache, `deno compile`) simply maps to `undefined`.
 */
export async function loadLineMapper(urls: Iterable<string>): Promise<LineMapper> {
  const maps = new Map<string, DecodedMap>();
  let dir: string | undefined;
  try {
    dir = denoDir((name) => Deno.env.get(name));
  } catch {
    dir = undefined; // no --allow-env
  }
  if (dir !== undefined && Deno.build.os !== "windows") {
    const wanted = [...new Set(urls)].filter((u) => u.startsWith("file://") && TRANSPILED.test(u));
    await Promise.all(wanted.map(async (url) => {
      try {
        const path = decodeURIComponent(new URL(url).pathname);
        const map = parseSourceMap(await Deno.readTextFile(`${dir}/gen/file${path}.js`));
        if (map !== undefined) maps.set(url, map);
      } catch {
        // no cached emit or no read permission: keep the emitted lines
      }
    }));
  }
  return (url, line, column) => {
    const map = maps.get(url);
    return map === undefined ? undefined : originalLine(map, line, column);
  };
}
