/**
 * The export format of `deno task sequences export` and `import`: one JSON object per line,
 * `{"name":…,"start":"…","committed":"…","floor":"…","retired":false}`, 64-bit values as decimal
 * strings so that no reader rounds them; a sequence with numbering settings adds `"reset"`,
 * `"timezone"` and `"format"` (if it has one), and each of its periods is a line of its own
 * (`"name":"inv@2026"`).
 *
 * @module
 */
import { errorText, INT64_MAX, invalid, type Reset, START_MIN } from "../domain/domain.ts";
import { checkExportRecord, type ExportRecord } from "../store/store.ts";

/** One record as one line (without the newline). */
export function formatExportLine(record: ExportRecord): string {
  return JSON.stringify({
    name: record.name,
    start: record.start.toString(),
    committed: record.committed.toString(),
    floor: record.floor.toString(),
    retired: record.retired,
    ...(record.reset === undefined ? {} : { reset: record.reset, timezone: record.timezone }),
    ...(record.format === undefined ? {} : { format: record.format }),
  });
}

const INTEGER = /^-?(0|[1-9][0-9]{0,18})$/;

/**
 * A signed 64-bit integer written as canonical decimal digits (a JSON string or number).
 * @throws {SequencerError} `invalid`, naming `what` and the rule.
 */
export function parseInt64(value: unknown, what: string): bigint {
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== "string" || !INTEGER.test(text)) {
    throw invalid(
      `${what}=${JSON.stringify(value)} is invalid: must be an integer in decimal digits`,
    );
  }
  const number = BigInt(text);
  if (number < START_MIN - 1n || number > INT64_MAX) {
    throw invalid(`${what}=${text} is invalid: must be from ${START_MIN - 1n} to ${INT64_MAX}`);
  }
  return number;
}

/**
 * Parses one export line.
 * @throws {SequencerError} `invalid`, naming the field and the rule.
 */
export function parseExportLine(line: string): ExportRecord {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(line);
  } catch (error) {
    throw invalid(`not JSON: ${errorText(error)}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalid("not a JSON object");
  }
  if (typeof json.retired !== "boolean") {
    throw invalid(`retired=${JSON.stringify(json.retired)} is invalid: must be true or false`);
  }
  const record: ExportRecord = {
    name: typeof json.name === "string" ? json.name : String(json.name),
    start: parseInt64(json.start, "start"),
    committed: parseInt64(json.committed, "committed"),
    floor: parseInt64(json.floor, "floor"),
    retired: json.retired,
  };
  for (const field of ["reset", "timezone", "format"] as const) {
    const value = json[field];
    if (value === undefined) continue;
    if (typeof value !== "string") {
      throw invalid(`${field}=${JSON.stringify(value)} is invalid: must be a string`);
    }
    if (field === "reset") record.reset = value as Reset;
    else record[field] = value;
  }
  checkExportRecord(record);
  return record;
}

/**
 * Parses a whole export (blank lines are skipped).
 * @throws {SequencerError} `invalid`: `<source>:<line>: <problem>` for the first bad line.
 */
export function parseExport(text: string, source: string): ExportRecord[] {
  const records: ExportRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    try {
      records.push(parseExportLine(line));
    } catch (error) {
      throw invalid(`${source}:${i + 1}: ${errorText(error)}`);
    }
  }
  return records;
}
