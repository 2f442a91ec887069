/**
 * `deno task sequences`: export, import, floors, retiring, backup, restore and reset of the store
 * (see `internal/admin/cli.ts`).
 *
 * @module
 */
import { runSequences } from "../../internal/admin/cli.ts";

const encoder = new TextEncoder();

async function writeAll(stream: { write(p: Uint8Array): Promise<number> }, text: string) {
  let data = encoder.encode(text);
  while (data.length > 0) data = data.subarray(await stream.write(data));
}

Deno.exit(
  await runSequences(Deno.args, {
    env: (name) => Deno.env.get(name),
    write: (text) => writeAll(Deno.stdout, text),
    error: (text) => writeAll(Deno.stderr, text),
    readStdin: () => new Response(Deno.stdin.readable).text(),
  }),
);
