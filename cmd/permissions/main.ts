/**
 * Prints the permission flags of `deno run` for the service as configured by the environment
 * (see `internal/permissions/permissions.ts`), on one line, for `deno task run`, the Makefile and
 * the Docker image:
 *
 * ```sh
 * deno run --unstable-net --no-prompt $(deno run --allow-env cmd/permissions/main.ts) cmd/app/main.ts
 * ```
 *
 * `--compiled` leaves out the code and Deno's cache, for `deno compile`. Needs `--allow-env` only.
 *
 * @module
 */
import { permissionFlags } from "../../internal/permissions/permissions.ts";

const root = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const { flags, unusable } = permissionFlags((name) => Deno.env.get(name), {
  root,
  compiled: Deno.args.includes("--compiled"),
});
for (const path of unusable) {
  console.error(
    `permissions: ${JSON.stringify(path)} holds a comma or a blank, which a permission flag ` +
      `cannot carry: the service will be refused access to it; use a path without them`,
  );
}
console.log(flags.join(" "));
