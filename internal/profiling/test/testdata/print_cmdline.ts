/**
 * Prints `commandLine()` as JSON, for cmdline_test.ts to run under chosen flags.
 *
 * @module
 */
import { commandLine } from "../../cmdline.ts";

console.log(JSON.stringify(commandLine()));
