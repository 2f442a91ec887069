/**
 * PostgreSQL connection URLs read the way libpq reads them (`conninfo_uri_parse_options` in
 * libpq's `fe-connect.c`), and their redaction for logs and messages.
 *
 * `postgres[ql]://[user[:password]@][host][:port][,host[:port]…][/database][?keyword=value&…]`:
 * the user info runs to the first `@` before any `/`, so a password may hold `?`, `#`, `:` or `&`
 * as written; `@` and `/` in it must be percent-encoded (`%40`, `%2F`). Every part may be
 * percent-encoded. `#` starts no fragment. Query parameters `user`, `password`, `dbname`, `host`
 * and `port` override the parts of the URL, as in libpq.
 *
 * One deliberate difference: an `@` after the user info (libpq would take it as part of a host,
 * the database name or a parameter) is refused, because it most likely belongs to a password that
 * the URL failed to delimit, and a refusal must not print it.
 *
 * @module
 */

/** A connection URL, decoded. */
export interface PostgresUrl {
  /** The user name, if given. */
  user?: string;
  /** The password, if given (never log it). */
  password?: string;
  /** The hosts in order (at least one); `""` stands for the default host. */
  hosts: string[];
  /** The port of each host (same length as {@link hosts}); `undefined` for the default. */
  ports: (number | undefined)[];
  /** The database name, if given. */
  database?: string;
  /** The other query parameters, decoded, in order (the last of a keyword wins). */
  params: [string, string][];
}

/** A URL that libpq would refuse, or that would have to be printed with its password. */
export class PostgresUrlError extends RangeError {
  /** The rule the URL breaks; it never holds the password. */
  readonly rule: string;
  /** The URL with its password hidden ({@link redactUrl}). */
  readonly redacted: string;

  /** @param url the URL as given. @param rule the rule it breaks. */
  constructor(url: string, rule: string) {
    const redacted = redactUrl(url);
    super(`postgres URL ${JSON.stringify(redacted)} is invalid: ${rule}`);
    this.name = "PostgresUrlError";
    this.rule = rule;
    this.redacted = redacted;
  }
}

const SCHEME = /^(postgres(?:ql)?):\/\//i;
const ANY_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
/** Query keywords whose values are secrets. */
const SECRET_KEYWORDS = new Set(["password", "sslpassword"]);
const AMBIGUOUS_RULE = `it has an "@" after its user info; percent-encode "@" as %40 and "/" as ` +
  `%2F in a user name, password, database name or parameter`;

/** The parts of a URL as written, split by libpq's rules; never fails. */
interface Parts {
  /** The scheme as written. */
  scheme: string;
  /** The user name as written (`undefined`: no user info). */
  user?: string;
  /** The password as written (`undefined`: no `:` in the user info). */
  password?: string;
  /** Whether an `@` follows the user info. */
  ambiguous: boolean;
  /** Each host as written (IPv6 without brackets), with its port as written. */
  hosts: { host: string; port?: string; bracketed: boolean }[];
  /** The text from the first host to the end of the host list, as written. */
  hostText: string;
  /** Where the host list is malformed (an unterminated or misplaced `[`…`]`). */
  hostError?: string;
  /** The database as written (`undefined`: no `/`). */
  database?: string;
  /** The query after `?` as written (`undefined`: no `?`). */
  query?: string;
}

/** Splits `rest` (the URL after `scheme://`) as `conninfo_uri_parse_options` does. */
function split(scheme: string, rest: string): Parts {
  const parts: Parts = { scheme, ambiguous: false, hosts: [], hostText: "" };
  // The user info runs to the first "@", unless a "/" comes first.
  let p = 0;
  while (p < rest.length && rest[p] !== "@" && rest[p] !== "/") p++;
  if (rest[p] === "@") {
    const info = rest.slice(0, p);
    const colon = info.indexOf(":");
    parts.user = colon < 0 ? info : info.slice(0, colon);
    if (colon >= 0) parts.password = info.slice(colon + 1);
    p++;
  } else {
    p = 0;
  }
  parts.ambiguous = rest.indexOf("@", p) >= 0;
  const hostStart = p;
  let terminator = "";
  for (;;) {
    let host: string;
    let bracketed = false;
    if (rest[p] === "[") {
      const close = rest.indexOf("]", p + 1);
      if (close < 0) {
        parts.hostError = `a "[" in its host list has no matching "]"`;
        parts.hosts.push({ host: rest.slice(p + 1), bracketed: true });
        parts.hostText = rest.slice(hostStart);
        return parts;
      }
      host = rest.slice(p + 1, close);
      bracketed = true;
      p = close + 1;
      if (p < rest.length && !":/?,".includes(rest[p])) {
        parts.hostError = `an IPv6 address in "[…]" must be followed by ":", "/", "?" or ","`;
      }
    } else {
      const start = p;
      while (p < rest.length && !":/?,".includes(rest[p])) p++;
      host = rest.slice(start, p);
    }
    terminator = rest[p] ?? "";
    let port: string | undefined;
    if (terminator === ":") {
      const start = ++p;
      while (p < rest.length && !"/?,".includes(rest[p])) p++;
      port = rest.slice(start, p);
      terminator = rest[p] ?? "";
    }
    parts.hosts.push({ host, ...(port === undefined ? {} : { port }), bracketed });
    if (terminator !== ",") break;
    p++;
  }
  parts.hostText = rest.slice(hostStart, p);
  if (terminator === "/") {
    const start = ++p;
    while (p < rest.length && rest[p] !== "?") p++;
    parts.database = rest.slice(start, p);
    terminator = rest[p] ?? "";
  }
  if (terminator === "?") parts.query = rest.slice(p + 1);
  return parts;
}

/** The `keyword=value` pairs of a query as written; `undefined` value: no `=`. */
function pairs(query: string): { keyword: string; value?: string; extra: boolean }[] {
  const segments = query === "" ? [] : query.split("&");
  // libpq stops at the end of the text: one trailing "&" adds no parameter.
  if (segments.length > 1 && segments.at(-1) === "") segments.pop();
  return segments.map((segment) => {
    const equals = segment.indexOf("=");
    if (equals < 0) return { keyword: segment, extra: false };
    const value = segment.slice(equals + 1);
    return { keyword: segment.slice(0, equals), value, extra: value.includes("=") };
  });
}

/**
 * Decodes `%XY` escapes (and leaves every other character as it is), as libpq does; the decoded
 * bytes must be UTF-8. `undefined` when an escape is malformed, is `%00`, or the bytes are not UTF-8.
 */
function decode(text: string): string | undefined {
  if (!text.includes("%")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] !== "%") {
      out += text[i++];
      continue;
    }
    const bytes: number[] = [];
    while (text[i] === "%") {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      const byte = parseInt(hex, 16);
      if (byte === 0) return undefined;
      bytes.push(byte);
      i += 3;
    }
    try {
      out += new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
    } catch {
      return undefined;
    }
  }
  return out;
}

/**
 * Reads a libpq connection URL: user, password, hosts and ports, database and parameters, each
 * percent-decoded; parameters `user`, `password`, `dbname`, `host` and `port` override the URL's
 * parts, `ssl=true` means `sslmode=require` and `requiressl` is read as libpq reads it.
 * @throws {PostgresUrlError} naming the rule broken, never the password.
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  const scheme = SCHEME.exec(url);
  if (scheme === null) {
    throw new PostgresUrlError(url, "must start with postgres:// or postgresql://");
  }
  const parts = split(scheme[1], url.slice(scheme[0].length));
  const fail = (rule: string) => new PostgresUrlError(url, rule);
  if (parts.ambiguous) throw fail(AMBIGUOUS_RULE);
  if (parts.hostError !== undefined) throw fail(parts.hostError);
  for (const { host, bracketed } of parts.hosts) {
    if (bracketed && host === "") throw fail(`an IPv6 address in "[]" must not be empty`);
  }
  const decoded = (raw: string, what: string, echo: boolean): string => {
    const value = decode(raw);
    if (value === undefined) {
      throw fail(
        `${what}${echo ? ` ${JSON.stringify(raw)}` : ""} has a malformed percent-encoding: "%" ` +
          `must be followed by two hexadecimal digits, not 00, and encode UTF-8`,
      );
    }
    return value;
  };
  const result: PostgresUrl = { hosts: [], ports: [], params: [] };
  if (parts.user) result.user = decoded(parts.user, "the user name", false);
  if (parts.password) result.password = decoded(parts.password, "the password", false);
  if (parts.database) result.database = decoded(parts.database, "the database name", true);
  // libpq joins the hosts (and the ports) with "," before decoding, then splits them again.
  const hostList = parts.hosts.map((h) => h.host).join(",");
  let host = hostList === "" ? undefined : decoded(hostList, "the host list", true);
  const portList = parts.hosts.map((h) => h.port ?? "").join(",");
  let port = portList === "" ? undefined : decoded(portList, "the port list", true);
  for (const pair of pairs(parts.query ?? "")) {
    if (pair.value === undefined) {
      throw fail(`query parameter ${JSON.stringify(pair.keyword)} has no "="`);
    }
    const keyword = decoded(pair.keyword, "a query parameter name", true);
    const secret = SECRET_KEYWORDS.has(keyword);
    if (pair.extra) {
      throw fail(
        `query parameter ${JSON.stringify(keyword)} has more than one "="` +
          (secret ? "" : `; percent-encode "=" in its value as %3D`),
      );
    }
    if (keyword === "") throw fail(`a query parameter has an empty name`);
    const value = decoded(pair.value, `the value of ${keyword}`, !secret);
    switch (keyword) {
      case "user":
        result.user = value;
        break;
      case "password":
        result.password = value;
        break;
      case "dbname":
        result.database = value;
        break;
      case "host":
        host = value;
        break;
      case "port":
        port = value;
        break;
      case "ssl":
        if (value !== "true") {
          throw fail(`query parameter ssl=${JSON.stringify(value)} is invalid: only ssl=true`);
        }
        result.params.push(["sslmode", "require"]);
        break;
      case "requiressl":
        result.params.push(["sslmode", value.startsWith("1") ? "require" : "prefer"]);
        break;
      default:
        result.params.push([keyword, value]);
    }
  }
  if (result.user === "") delete result.user;
  if (result.password === "") delete result.password;
  if (result.database === "") delete result.database;
  result.hosts = host === undefined ? [""] : host.split(",");
  const ports = port === undefined || port === "" ? [] : port.split(",");
  if (ports.length > 1 && ports.length !== result.hosts.length) {
    throw fail(
      `it has ${ports.length} ports for ${result.hosts.length} hosts: give one port, or one per host`,
    );
  }
  result.ports = result.hosts.map((_, i) => {
    const text = ports.length === 1 ? ports[0] : ports[i];
    if (text === undefined || text === "") return undefined;
    const number = Number(text);
    if (!/^\d{1,5}$/.test(text) || number < 1 || number > 65535) {
      throw fail(`port ${JSON.stringify(text)} is invalid: must be a number from 1 to 65535`);
    }
    return number;
  });
  return result;
}

/**
 * `url` with every password replaced by `***`, for logs and messages: the one in the user info
 * (found by libpq's rules, so `?`, `#` or `:` in it do not matter) and `password=` parameters.
 * Any text works: a URL of any scheme, or a libpq `keyword=value` string. When an `@` follows the
 * user info, where the password ends is unclear, so everything after `scheme://` is hidden.
 */
export function redactUrl(url: string): string {
  const scheme = ANY_SCHEME.exec(url);
  if (scheme === null) {
    // Not a URL: hide `password=…` (libpq's keyword form) and anything before an "@".
    const hidden = url.replace(
      /\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)/gi,
      "$1***",
    );
    const at = hidden.lastIndexOf("@");
    return at < 0 ? hidden : `***${hidden.slice(at)}`;
  }
  const rest = url.slice(scheme[0].length);
  const parts = split(scheme[1], rest);
  if (parts.ambiguous) return `${scheme[0]}***`;
  let out = scheme[0];
  if (parts.user !== undefined) {
    out += parts.user;
    if (parts.password !== undefined) out += parts.password === "" ? ":" : ":***";
    out += "@";
  }
  out += parts.hostText;
  if (parts.hostError !== undefined) return out;
  if (parts.database !== undefined) out += `/${parts.database}`;
  if (parts.query !== undefined) {
    const query = parts.query.split("&").map((segment) => {
      const equals = segment.indexOf("=");
      if (equals < 0) return segment;
      const keyword = segment.slice(0, equals);
      return SECRET_KEYWORDS.has(decode(keyword) ?? keyword) ? `${keyword}=***` : segment;
    });
    out += `?${query.join("&")}`;
  }
  return out;
}

/**
 * `text` with every occurrence of `secret` (as given, and percent-encoded) replaced by `***`: for
 * messages of a driver or a server that might repeat what they were given.
 */
export function hideSecret(text: string, secret: string | undefined): string {
  if (secret === undefined || secret === "") return text;
  let out = text;
  for (const form of new Set([secret, encodeURIComponent(secret)])) {
    out = out.replaceAll(form, "***");
  }
  return out;
}
