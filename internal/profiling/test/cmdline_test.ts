import assert from "node:assert/strict";
import { commandLine } from "../cmdline.ts";

const CHILD = new URL("./testdata/print_cmdline.ts", import.meta.url);
const CHILD_PATH = decodeURIComponent(CHILD.pathname);

/** Runs the child with `flags` and `args`; its `commandLine()`. */
async function childCommandLine(flags: string[], args: string[]): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, CHILD_PATH, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("commandLine: the argv, read or rebuilt", async (t) => {
  await t.step("under --allow-all it is /proc/self/cmdline, word for word", async () => {
    const argv = await childCommandLine(["-A"], ["a", "b c", ""]);
    assert.deepEqual(argv.slice(1), ["run", "--no-prompt", "-A", CHILD_PATH, "a", "b c", ""]);
    assert.match(argv[0], /deno$/);
  });

  await t.step(
    "without it (Deno 2 wants --allow-all for /proc/self) the flags are rebuilt",
    async () => {
      const flags = ["--unstable-net", "--allow-net", "--allow-env", "--allow-read", "--allow-sys"];
      const argv = await childCommandLine(flags, ["x", "y z"]);
      assert.deepEqual(argv, [
        Deno.execPath(),
        "run",
        "--unstable-net",
        "--allow-read",
        "--allow-net",
        "--allow-env",
        "--allow-sys",
        CHILD_PATH,
        "x",
        "y z",
      ]);
    },
  );

  await t.step("no flags at all: the executable, run, the script and its arguments", async () => {
    assert.deepEqual(await childCommandLine([], ["-v"]), [
      Deno.execPath(),
      "run",
      CHILD_PATH,
      "-v",
    ]);
  });

  await t.step("a permission granted only in part is left out", async () => {
    const argv = await childCommandLine(
      ["--allow-read", "--deny-read=/etc", "--allow-write=/tmp", "--allow-env"],
      [],
    );
    assert.deepEqual(argv, [Deno.execPath(), "run", "--allow-env", CHILD_PATH]);
  });

  await t.step("a readable cmdline file is split at NUL bytes", async () => {
    const file = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(file, "/bin/deno\0run\0-A\0main.ts\0with space\0\0");
      assert.deepEqual(commandLine({ procFile: file }), [
        "/bin/deno",
        "run",
        "-A",
        "main.ts",
        "with space",
        "",
      ]);
    } finally {
      await Deno.remove(file);
    }
  });

  await t.step("a missing or empty file falls back to the rebuilt command line", async () => {
    const empty = await Deno.makeTempFile();
    try {
      for (const procFile of [empty, `${empty}.missing`]) {
        const argv = commandLine({ procFile });
        assert.deepEqual(argv.slice(0, 2), [Deno.execPath(), "run"]);
        assert.ok(argv.includes("--allow-run"), `this test runs with --allow-run: ${argv}`);
        assert.deepEqual(argv.slice(argv.length - Deno.args.length), Deno.args);
      }
    } finally {
      await Deno.remove(empty);
    }
  });
});
