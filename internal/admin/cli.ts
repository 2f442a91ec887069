/**
 * `deno task sequences`: the operator's commands on a store, against `DATA_DIR` or
 * `DATABASE_URL` as the service reads them (`--data-dir` / `--database-url` override):
 *
 * - `export [FILE]`: every sequence as JSON lines (`export_lines.ts`), read in pages; to stdout
 *   without FILE, else to FILE (written whole or not at all).
 * - `import FILE`: raise-only merge (`-` reads stdin); on the embedded store it also accepts a
 *   restored copy and clears the mark of a move to PostgreSQL.
 * - `floor NAME N`: raises one floor (accepts a restored copy, like import).
 * - `retire NAME`: retires a sequence.
 * - `backup FILE`: a consistent online copy of the embedded store, while the service runs.
 * - `restore FILE`: a backup put in place of the embedded store (old files moved aside).
 * - `reset --i-understand-numbers-restart`: the embedded store moved aside; it starts anew.
 *
 * Exit code 0 on success; 1 with one line on stderr naming the problem otherwise.
 *
 * @module
 */
import {
  errorText,
  INT64_MAX,
  invalid,
  notFound,
  PERIOD_SEPARATOR,
  SEQUENCE_NAME,
  SEQUENCE_NAME_RULE,
  START_MIN,
} from "../domain/domain.ts";
import { replaceFile } from "../store/durable_file.ts";
import { openPostgresStore } from "../store/postgres_store.ts";
import { redactUrl } from "../store/postgres_url.ts";
import {
  openSqliteStoreHere,
  type SqliteOpenOptions,
  type SqliteStore,
} from "../store/sqlite_store.ts";
import {
  exportRecord,
  isStoredName,
  MERGE_BATCH,
  type MergeResult,
  type Store,
} from "../store/store.ts";
import { formatExportLine, parseExport, parseInt64 } from "./export_lines.ts";
import { resetStore, restoreBackup } from "./store_files.ts";

/** How the program talks to the world (the real process, or a test). */
export interface CliIo {
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** Writes to stdout. */
  write(text: string): Promise<void>;
  /** Writes to stderr. */
  error(text: string): Promise<void>;
  /** Reads all of stdin. */
  readStdin(): Promise<string>;
}

/** The flag `reset` needs. */
export const RESET_CONFIRMATION = "--i-understand-numbers-restart";

/** Sequences read per page when exporting. */
const PAGE = 1000;
/** Names listed per kind of change after an import, at most. */
const LISTED = 50;

/** The usage text of `help`. */
export const USAGE = `Usage: deno task sequences <command> [--data-dir DIR | --database-url URL]

Commands (against DATA_DIR, or DATABASE_URL when set, as the service; the flags override):
  export [FILE]       every sequence as JSON lines (stdout without FILE)
  import FILE         raise-only merge of an export (- for stdin): creates missing sequences,
                      raises floors above every exported committed bound, retires the retired
  floor NAME N        raise NAME's floor to N: no number below N is handed out again (a
                      period of a sequence with periods is named NAME@PERIOD, e.g. inv@2026)
  retire NAME         retire NAME: it hands out no number again
  backup FILE         consistent copy of the embedded store while the service runs
  restore FILE        put a backup in place of the embedded store (service stopped; old files
                      are moved aside); then raise the floors with import or floor
  reset ${RESET_CONFIRMATION}
                      move the embedded store aside: every sequence starts anew at its start
  help                this text
`;

/** Where the command works. */
type Target = { kind: "sqlite"; dataDir: string } | { kind: "postgres"; url: string };

interface Parsed {
  command: string | undefined;
  operands: string[];
  target: Target;
  confirmed: boolean;
}

function parseArgs(args: string[], io: CliIo): Parsed {
  const operands: string[] = [];
  let dataDir: string | undefined;
  let url: string | undefined;
  let confirmed = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") throw invalid(`${flag} needs a value`);
      return v;
    };
    if (flag === "--data-dir") dataDir = value();
    else if (flag === "--database-url") url = value();
    else if (arg === RESET_CONFIRMATION) confirmed = true;
    else if (arg === "--help" || arg === "-h") operands.unshift("help");
    else if (arg.startsWith("--")) throw invalid(`unknown flag ${arg}: see "help"`);
    else operands.push(arg);
  }
  if (dataDir !== undefined && url !== undefined) {
    throw invalid("give --data-dir or --database-url, not both");
  }
  let target: Target;
  if (url !== undefined) target = { kind: "postgres", url };
  else if (dataDir !== undefined) target = { kind: "sqlite", dataDir };
  else {
    const envUrl = io.env("DATABASE_URL");
    target = envUrl !== undefined && envUrl !== ""
      ? { kind: "postgres", url: envUrl }
      : { kind: "sqlite", dataDir: io.env("DATA_DIR") || "./data" };
  }
  return { command: operands.shift(), operands, target, confirmed };
}

function where(target: Target): string {
  return target.kind === "postgres"
    ? `PostgreSQL at ${redactUrl(target.url)}`
    : `the embedded store in DATA_DIR=${JSON.stringify(target.dataDir)}`;
}

/** Opens the target's store; for the embedded one with `sqlite` options. */
async function open(target: Target, sqlite: SqliteOpenOptions): Promise<Store> {
  if (target.kind === "postgres") {
    return await openPostgresStore(target.url, { poolSize: 2, timeoutMs: 60_000 });
  }
  return await openSqliteStoreHere(target.dataDir, sqlite);
}

async function withStore<T>(
  target: Target,
  sqlite: SqliteOpenOptions,
  body: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await open(target, sqlite);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

function needOperands(command: string, operands: string[], names: string[]): void {
  if (operands.length !== names.length) {
    throw invalid(
      `${command} takes ${names.length === 0 ? "no operands" : names.join(" ")}, ` +
        `got ${operands.length === 0 ? "none" : operands.map((o) => JSON.stringify(o)).join(" ")}`,
    );
  }
}

function checkName(name: string): string {
  if (!SEQUENCE_NAME.test(name)) {
    throw invalid(`sequence name ${JSON.stringify(name)} is invalid: ${SEQUENCE_NAME_RULE}`);
  }
  return name;
}

function embeddedOnly(target: Target, command: string, instead: string): string {
  if (target.kind !== "sqlite") {
    throw invalid(`${command} is for the embedded store, not ${where(target)}: ${instead}`);
  }
  return target.dataDir;
}

async function exportAll(store: Store): Promise<{ text: string; count: number }> {
  const lines: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list(after === undefined ? { limit: PAGE } : { limit: PAGE, after });
    for (const record of page) lines.push(formatExportLine(exportRecord(record)));
    if (page.length < PAGE) break;
    after = page[page.length - 1].name;
  }
  return { text: lines.map((line) => line + "\n").join(""), count: lines.length };
}

function listed(kind: string, names: string[]): string {
  const shown = names.slice(0, LISTED).join(", ");
  const more = names.length > LISTED ? `, and ${names.length - LISTED} more` : "";
  return `${kind} ${names.length}${names.length > 0 ? `: ${shown}${more}` : ""}\n`;
}

/** The commands, each given its operands; they return what to print on stdout. */
const COMMANDS: Record<
  string,
  (parsed: Parsed, io: CliIo) => Promise<string>
> = {
  help: () => Promise.resolve(USAGE),

  async export({ operands, target }, io) {
    if (operands.length > 1) needOperands("export", operands, ["[FILE]"]);
    const { text, count } = await withStore(
      target,
      { create: false, acceptRestored: true, acceptMoved: true },
      exportAll,
    );
    if (operands.length === 0) {
      await io.write(text);
      return "";
    }
    await replaceFile(
      operands[0],
      (temporary) => Deno.writeTextFile(temporary, text, { createNew: true }),
    );
    return `exported ${count} sequences from ${where(target)} to ${operands[0]}\n`;
  },

  async import({ operands, target }, io) {
    needOperands("import", operands, ["FILE"]);
    const [file] = operands;
    let text: string;
    try {
      text = file === "-" ? await io.readStdin() : await Deno.readTextFile(file);
    } catch (error) {
      throw invalid(`cannot read ${JSON.stringify(file)}: ${errorText(error)}`);
    }
    const records = parseExport(text, file === "-" ? "stdin" : file);
    const result: MergeResult = await withStore(
      target,
      { create: true, acceptRestored: true, acceptMoved: true },
      async (store) => {
        const total: MergeResult = { created: [], raised: [], retired: [] };
        for (let i = 0; i < records.length; i += MERGE_BATCH) {
          const merged = await store.merge(records.slice(i, i + MERGE_BATCH));
          total.created.push(...merged.created);
          total.raised.push(...merged.raised);
          total.retired.push(...merged.retired);
        }
        if (target.kind === "sqlite") {
          // At or above the export now: in use again, and accepted if it was a restored copy.
          (store as SqliteStore).clearMoved();
          (store as SqliteStore).acceptGeneration();
        }
        return total;
      },
    );
    return `imported ${records.length} sequences into ${where(target)}\n` +
      listed("created", result.created) + listed("raised", result.raised) +
      listed("retired", result.retired);
  },

  async floor({ operands, target }) {
    needOperands("floor", operands, ["NAME", "N"]);
    const name = operands[0];
    if (!isStoredName(name)) checkName(name);
    const floor = parseInt64(operands[1], "N");
    if (floor < START_MIN || floor > INT64_MAX) {
      throw invalid(`N=${floor} is invalid: must be from ${START_MIN} to ${INT64_MAX}`);
    }
    return await withStore(target, { create: false, acceptRestored: true }, async (store) => {
      const at = name.indexOf(PERIOD_SEPARATOR);
      if (at >= 0) {
        // A period not begun in this store (a restored copy older than it) is created, at its
        // sequence's start, so that its floor can hold.
        const sequence = name.slice(0, at);
        const parent = await store.get(sequence);
        if (parent === undefined) throw notFound(sequence);
        if (parent.reset === undefined || parent.reset === "never") {
          throw invalid(`sequence ${JSON.stringify(sequence)} has no periods: floor ${sequence} N`);
        }
        await store.create(name, parent.start);
      }
      const { record, changed } = await store.raiseFloor(name, floor);
      if (target.kind === "sqlite") (store as SqliteStore).acceptGeneration();
      const next = record.upper >= INT64_MAX ? "none (exhausted)" : `${record.upper + 1n}`;
      return changed
        ? `floor of ${name} raised to ${record.floor}; its next block starts at ${next}\n`
        : `floor of ${name} unchanged: it is ${record.floor} already; its next block starts ` +
          `at ${next}\n`;
    });
  },

  async retire({ operands, target }) {
    needOperands("retire", operands, ["NAME"]);
    const name = checkName(operands[0]);
    return await withStore(target, { create: false }, async (store) => {
      const { record, changed } = await store.retire(name);
      return changed
        ? `${name} retired; its last committed bound is ${record.upper}\n`
        : `${name} was retired already; its last committed bound is ${record.upper}\n`;
    });
  },

  async backup({ operands, target }) {
    needOperands("backup", operands, ["FILE"]);
    const dataDir = embeddedOnly(
      target,
      "backup",
      "back PostgreSQL up with pg_dump, and after restoring it raise the floors from the last " +
        'export (README "Backup and restore")',
    );
    const store = await openSqliteStoreHere(dataDir, {
      create: false,
      acceptRestored: true,
      acceptMoved: true,
    });
    try {
      await store.backup(operands[0]);
      return `backup of ${store.path} written to ${operands[0]}\n`;
    } finally {
      await store.close();
    }
  },

  async restore({ operands, target }) {
    needOperands("restore", operands, ["FILE"]);
    const dataDir = embeddedOnly(target, "restore", "restore PostgreSQL with its own tools");
    const restored = await restoreBackup(dataDir, operands[0]);
    return `restored ${operands[0]} as the store of DATA_DIR=${JSON.stringify(dataDir)}` +
      (restored.replacedTo === undefined
        ? ""
        : `; the files it replaced are in ${restored.replacedTo}`) +
      `\nBefore starting the service, raise the floors above every number handed out since the ` +
      `backup: "deno task sequences import LAST_EXPORT", or "deno task sequences floor NAME N" ` +
      `per sequence (N above /debug/metrics' sequencer_last_number); until then it refuses to ` +
      `start\n`;
  },

  async reset({ operands, target, confirmed }) {
    needOperands("reset", operands, []);
    const dataDir = embeddedOnly(target, "reset", "it never resets PostgreSQL");
    if (!confirmed) {
      throw invalid(
        `reset moves the store of DATA_DIR=${JSON.stringify(dataDir)} aside and every sequence ` +
          `starts again at its start, handing out its numbers again: add ${RESET_CONFIRMATION} ` +
          `if that is what you want`,
      );
    }
    const moved = await resetStore(dataDir);
    return moved === undefined
      ? `DATA_DIR=${JSON.stringify(dataDir)} holds no store: nothing to reset\n`
      : `moved ${moved.moved.join(", ")} to ${moved.folder}; the next start creates a new store\n`;
  },
};

/**
 * Runs the program with `args`.
 * @returns the exit code: 0 on success, 1 after one line on stderr naming the problem.
 */
export async function runSequences(args: string[], io: CliIo): Promise<number> {
  try {
    const parsed = parseArgs(args, io);
    if (parsed.command === undefined) {
      throw invalid(`no command given: one of ${Object.keys(COMMANDS).join(", ")} (see "help")`);
    }
    const command = COMMANDS[parsed.command];
    if (command === undefined || !Object.hasOwn(COMMANDS, parsed.command)) {
      throw invalid(
        `unknown command ${JSON.stringify(parsed.command)}: one of ` +
          `${Object.keys(COMMANDS).join(", ")}`,
      );
    }
    if (parsed.confirmed && parsed.command !== "reset") {
      throw invalid(`${RESET_CONFIRMATION} belongs to reset only`);
    }
    const output = await command(parsed, io);
    if (output !== "") await io.write(output);
    return 0;
  } catch (error) {
    await io.error(`sequences: ${errorText(error).replaceAll("\n", " ")}\n`);
    return 1;
  }
}
