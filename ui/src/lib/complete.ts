/** Completion for the run search grammar (docs/search.md): fields, operators and keywords. */

export interface Keys {
  params: string[];
  metrics: string[];
  tags: string[];
}

export interface Suggestion {
  label: string;
  insert: string;
  kind: "field" | "operator" | "keyword";
}

export interface Completion {
  from: number;
  to: number;
  items: Suggestion[];
}

export const ATTRIBUTES = ["status", "name", "user", "run_id", "experiment_id", "parent_id", "start_time", "end_time"];
const OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "~", "IN", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const KEYWORDS = ["AND", "OR", "NOT"];
const BOUNDARY = /[\s()]/;

/** Quote a key the way the grammar reads it back: bare when it is simple, else in backticks. */
export function field(prefix: "params" | "metrics" | "tags", key: string): string {
  return /^[\w./-]+$/.test(key) ? `${prefix}.${key}` : `${prefix}.\`${key}\``;
}

/** A filter matching these runs: `run_id IN ('a', 'b')` (run ids are hex, so need no escaping). */
export function runIdsIn(ids: string[]): string {
  return `run_id IN (${ids.map((id) => `'${id}'`).join(", ")})`;
}

function isField(token: string): boolean {
  return /^(params|param|p|metrics|metric|m|tags|tag|t|attributes|attribute|attr|run)\.|^(min|max|last)\(/i.test(token) ||
    ATTRIBUTES.includes(token.toLowerCase());
}

/** What could be typed at `cursor` in `text`, given the keys the runs have. */
export function complete(text: string, cursor: number, keys: Keys, limit = 50): Completion {
  let from = cursor;
  while (from > 0 && !BOUNDARY.test(text[from - 1])) from--;
  const prefix = text.slice(from, cursor);
  const before = text.slice(0, from).trimEnd();
  const previous = before.split(/[\s()]+/).pop() ?? "";
  const candidates: Suggestion[] = [];
  if (previous && isField(previous) && !/^(AND|OR|NOT)$/i.test(previous)) {
    for (const op of OPERATORS) candidates.push({ label: op, insert: op + " ", kind: "operator" });
  } else {
    for (const k of keys.metrics) candidates.push({ label: field("metrics", k), insert: field("metrics", k) + " ", kind: "field" });
    for (const k of keys.params) candidates.push({ label: field("params", k), insert: field("params", k) + " ", kind: "field" });
    for (const k of keys.tags) candidates.push({ label: field("tags", k), insert: field("tags", k) + " ", kind: "field" });
    for (const a of ATTRIBUTES) candidates.push({ label: a, insert: a + " ", kind: "field" });
    if (before && !/(AND|OR|NOT|\()$/i.test(before)) {
      for (const kw of KEYWORDS) candidates.push({ label: kw, insert: kw + " ", kind: "keyword" });
    }
  }
  const needle = prefix.toLowerCase();
  const items = candidates
    .filter((s) => s.label.toLowerCase().startsWith(needle) || (needle.length > 1 && s.label.toLowerCase().includes(needle)))
    .filter((s) => s.label.toLowerCase() !== needle.trim())
    .sort((a, b) => Number(!a.label.toLowerCase().startsWith(needle)) - Number(!b.label.toLowerCase().startsWith(needle)))
    .slice(0, limit);
  return { from, to: cursor, items };
}

/** Text after applying a suggestion, and where the cursor goes. */
export function apply(text: string, completion: Completion, item: Suggestion): { text: string; cursor: number } {
  const next = text.slice(0, completion.from) + item.insert + text.slice(completion.to).replace(/^\s+/, "");
  return { text: next, cursor: completion.from + item.insert.length };
}

/** Every param, metric and tag key of some runs, sorted. */
export function keysOf(runs: { params: object; metrics: object; tags: object }[]): Keys {
  const p = new Set<string>();
  const m = new Set<string>();
  const t = new Set<string>();
  for (const r of runs) {
    for (const k in r.params) p.add(k);
    for (const k in r.metrics) m.add(k);
    for (const k in r.tags) t.add(k);
  }
  const sorted = (s: Set<string>) => Array.from(s).sort((a, b) => a.localeCompare(b));
  return { params: sorted(p), metrics: sorted(m), tags: sorted(t) };
}
