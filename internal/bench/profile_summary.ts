/**
 * Where the CPU goes while the service serves: a V8 `.cpuprofile` (as `/debug/pprof/profile
 * ?format=cpuprofile` returns it, threads merged) summarized for `docs/benchmarks.md`. Pure.
 *
 * Each sample is put in the first category whose rule matches its stack, looking from the leaf
 * to the root, so time spent inside Deno's `Response` constructor counts as building the
 * response wherever it was called from. `(idle)` samples are left out: V8 sees the time a thread
 * spends in Deno's Rust HTTP stack (hyper, sockets) only as idle, so the shares describe the
 * JavaScript side of serving.
 *
 * @module
 */

/** One node of a V8 `.cpuprofile`. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** A V8 `.cpuprofile` (the fields used here). */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

/** One line of the summary. */
export interface Share {
  /** What the time was spent on. */
  name: string;
  /** Samples in it. */
  samples: number;
  /** Its part of the busy (non-idle) samples, 0…1. */
  share: number;
}

/** The summary of one profile. */
export interface ProfileSummary {
  /** Every sample. */
  total: number;
  /** Samples that were not `(idle)`. */
  busy: number;
  /** Busy time by category, largest first. */
  categories: Share[];
  /** The functions with the most self time, largest first. */
  top: Share[];
}

/** The category names, in the order their rules are tried. */
export const CATEGORIES = {
  gc: "garbage collection",
  response: "building the Response (Deno's `Response` and `Headers`)",
  url: "reading `req.url` (Deno builds the string on first access)",
  ours: "this project's code (self time: routing, the atomic take, the body template)",
  runtime: "Deno's HTTP serving, JavaScript side (dispatch, sending the response)",
  other: "other (V8 `(program)`, timers, the owner and debug threads)",
} as const;

const isDenoInternal = (url: string) => url.startsWith("ext:") || url.startsWith("node:");

/** The category of one stack, leaf first. */
function classify(stack: ProfileNode[], isOurs: (url: string) => boolean): string {
  const leaf = stack[0].callFrame;
  if (leaf.functionName === "(garbage collector)") return CATEGORIES.gc;
  for (const node of stack) {
    const { functionName, url } = node.callFrame;
    if (functionName === "Response" && url.startsWith("ext:deno_fetch")) {
      return CATEGORIES.response;
    }
    if ((functionName === "get url" || functionName === "url") && isDenoInternal(url)) {
      return CATEGORIES.url;
    }
  }
  if (isOurs(leaf.url)) return CATEGORIES.ours;
  const serving = stack.some((n) => n.callFrame.url.startsWith("ext:deno_http"));
  if (serving) return CATEGORIES.runtime;
  return CATEGORIES.other;
}

/**
 * Summarizes `profile`.
 * @param isOurs true for a script URL of this project.
 * @param topCount how many functions to list by self time.
 */
export function summarizeProfile(
  profile: CpuProfile,
  isOurs: (url: string) => boolean,
  topCount = 10,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, count] of hits) {
    const stack: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node === undefined) break;
      stack.push(node);
    }
    if (stack.length === 0 || stack[0].callFrame.functionName === "(idle)") continue;
    busy += count;
    const category = classify(stack, isOurs);
    categories.set(category, (categories.get(category) ?? 0) + count);
    const frame = stack[0].callFrame;
    const file = frame.url === "" ? "" : ` (${shortUrl(frame.url)})`;
    const name = `${frame.functionName || "(anonymous)"}${file}`;
    functions.set(name, (functions.get(name) ?? 0) + count);
  }
  const shares = (map: Map<string, number>) =>
    [...map].map(([name, samples]) => ({ name, samples, share: busy ? samples / busy : 0 }))
      .sort((a, b) => b.samples - a.samples);
  return {
    total: profile.samples.length,
    busy,
    categories: shares(categories),
    top: shares(functions).slice(0, topCount),
  };
}

/** `ext:deno_fetch/23_response.js` stays; a file URL keeps its last two path segments. */
function shortUrl(url: string): string {
  if (isDenoInternal(url)) return url;
  return url.split("/").slice(-2).join("/");
}
