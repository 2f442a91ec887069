/**
 * The client as plain JavaScript on Node.js 20+: `deno bundle` turns the module into one ESM file
 * (for the browser platform, so nothing of Deno may remain), and a small Node.js script uses it
 * against a real service: numbers, exact bigints above 2^53, a coded error, the prefetcher and an
 * abort.
 */
import assert from "node:assert/strict";
import { withService } from "./_helpers.ts";

const ROOT = new URL("../../../", import.meta.url);

const SCRIPT = `
import { SequencerClient, SequencerClientError } from "./sequencer-client.mjs";

const client = new SequencerClient(process.argv[2], { timeoutMs: 60000 });
const out = { node: process.version };
out.next = String(await client.next());
const batch = await client.nextBatch(10);
out.batch = [String(batch.first), String(batch.last), batch.count];
await client.create("node", 9007199254740993n);
out.big = String(await client.next({ sequence: "node" }));
try {
  await client.next({ sequence: "missing" });
} catch (error) {
  out.error = [error instanceof SequencerClientError, error.code, error.status];
}
const prefetcher = client.prefetch({ initialBatch: 100 });
const seen = new Set();
for (let i = 0; i < 5000; i++) seen.add(prefetcher.tryTake() ?? await prefetcher.take());
out.prefetched = seen.size;
out.batches = prefetcher.stats().batches;
await prefetcher.close();
try {
  await client.next({ signal: AbortSignal.abort() });
} catch (error) {
  out.aborted = error.code;
}
console.log(JSON.stringify(out));
process.exit(0);
`;

async function run(command: string, args: string[], cwd: string | URL) {
  const output = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("the bundled client runs on Node.js 20+ against a real service", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-client-node-" });
  try {
    const bundle = `${dir}/sequencer-client.mjs`;

    await t.step("deno bundle makes one ESM file with nothing of Deno in it", async () => {
      const built = await run(Deno.execPath(), [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--format",
        "esm",
        "--output",
        bundle,
        "pkg/client/mod.ts",
      ], ROOT);
      assert.equal(built.code, 0, built.stderr);
      const js = await Deno.readTextFile(bundle);
      assert.doesNotMatch(js, /\bDeno\./);
      assert.match(js, /export\s*{[^}]*SequencerClient\b/);
    });

    await t.step("a Node.js script takes numbers with it", async () => {
      const version = await run("node", ["--version"], dir);
      assert.equal(version.code, 0, "node is not installed");
      const major = Number(version.stdout.trim().match(/^v(\d+)\./)?.[1]);
      assert.ok(major >= 20, `node ${version.stdout.trim()} is older than 20`);
      await Deno.writeTextFile(`${dir}/run.mjs`, SCRIPT);
      await withService({}, async (service) => {
        const result = await run("node", ["run.mjs", service.api], dir);
        assert.equal(result.code, 0, result.stderr);
        const out = JSON.parse(result.stdout);
        assert.equal(out.node, version.stdout.trim());
        assert.equal(out.next, "1");
        assert.deepStrictEqual(out.batch, ["2", "11", 10]);
        assert.equal(out.big, "9007199254740993");
        assert.deepStrictEqual(out.error, [true, "not_found", 404]);
        assert.equal(out.prefetched, 5000);
        assert.ok(out.batches >= 2);
        assert.equal(out.aborted, "aborted");
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
