/**
 * An exact JSON parser for the server's answers on every runtime: integers are returned as
 * `bigint`, so none is rounded through a float. `JSON.parse`'s source-text reviver does the same
 * but is missing from Node.js 20; this parser needs nothing of the runtime.
 *
 * @module
 */

/** A JSON value as {@link parseJson} returns it: integers are bigints. */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Deepest nesting accepted (the server's answers nest three levels). */
const MAX_DEPTH = 256;

const ESCAPES: Readonly<Record<string, string>> = Object.freeze({
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
});

const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * Parses `text` as strict JSON (RFC 8259). An integer literal (no fraction, no exponent) becomes a
 * `bigint`, any other number a `number`; everything else is as `JSON.parse` gives it.
 *
 * @throws {SyntaxError} when `text` is not one JSON value, naming the offset.
 */
export function parseJson(text: string): JsonValue {
  const parser = new _Parser(text);
  const value = parser.value(0);
  parser.space();
  if (parser.at < text.length) parser.fail("unexpected text after the JSON value");
  return value;
}

class _Parser {
  at = 0;
  readonly text: string;
  // Sticky expressions keep a position, so each parser has its own.
  readonly #number = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  // Control characters must be escaped inside a JSON string, so they end a plain run.
  // deno-lint-ignore no-control-regex
  readonly #plain = /[^"\\\u0000-\u001f]*/y;
  readonly #whitespace = /[ \t\n\r]*/y;

  constructor(text: string) {
    this.text = text;
  }

  fail(what: string): never {
    throw new SyntaxError(`invalid JSON at offset ${this.at}: ${what}`);
  }

  space(): void {
    const whitespace = this.#whitespace;
    whitespace.lastIndex = this.at;
    whitespace.test(this.text);
    this.at = whitespace.lastIndex;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    this.space();
    const c = this.text[this.at];
    switch (c) {
      case "{":
        return this.object(depth);
      case "[":
        return this.array(depth);
      case '"':
        return this.string();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      default:
        if (c === "-" || (c >= "0" && c <= "9")) return this.number();
        return this.fail(c === undefined ? "unexpected end" : `unexpected ${JSON.stringify(c)}`);
    }
  }

  literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.at)) this.fail(`expected ${word}`);
    this.at += word.length;
    return value;
  }

  number(): number | bigint {
    const number = this.#number;
    number.lastIndex = this.at;
    const match = number.exec(this.text);
    if (match === null) return this.fail("invalid number");
    this.at = number.lastIndex;
    const [source, fraction, exponent] = match;
    return fraction === undefined && exponent === undefined ? BigInt(source) : Number(source);
  }

  string(): string {
    this.at++; // the opening quote
    let out = "";
    for (;;) {
      const plain = this.#plain;
      plain.lastIndex = this.at;
      plain.test(this.text);
      out += this.text.slice(this.at, plain.lastIndex);
      this.at = plain.lastIndex;
      const c = this.text[this.at];
      if (c === '"') {
        this.at++;
        return out;
      }
      if (c !== "\\") this.fail(c === undefined ? "unterminated string" : "control character");
      const e = this.text[this.at + 1];
      if (e === "u") {
        const hex = this.text.slice(this.at + 2, this.at + 6);
        if (!HEX4.test(hex)) this.fail("invalid \\u escape");
        out += String.fromCharCode(parseInt(hex, 16));
        this.at += 6;
      } else {
        const escaped = e === undefined ? undefined : ESCAPES[e];
        if (escaped === undefined) this.fail("invalid escape");
        out += escaped;
        this.at += 2;
      }
    }
  }

  array(depth: number): JsonValue[] {
    this.at++;
    const out: JsonValue[] = [];
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.at++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expected , or ]");
    }
  }

  object(depth: number): { [key: string]: JsonValue } {
    this.at++;
    // No prototype: a key "__proto__" is an ordinary key, as with JSON.parse.
    const out: { [key: string]: JsonValue } = {};
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail("expected a string key");
      const key = this.string();
      this.space();
      if (this.text[this.at++] !== ":") this.fail("expected :");
      Object.defineProperty(out, key, {
        value: this.value(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.space();
      const c = this.text[this.at++];
      if (c === "}") return out;
      if (c !== ",") this.fail("expected , or }");
    }
  }
}

/** Whether `value` is a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
