/** Completion for the run search grammar (docs/search.md): fields, operators, keywords and values. */

export interface Keys {
  params: string[];
  metrics: string[];
  tags: string[];
}

export interface Suggestion {
  label: string;
  insert: string;
  kind: "field" | "operator" | "keyword" | "value";
}

export interface Completion {
  from: number;
  to: number;
  items: Suggestion[];
}

/** A field whose known values can be asked of the server (`GET /experiments/{id}/values`). */
export interface ValueField {
  /** the field as the server reads it: `params.lr`, `tags.team`, `status`, `user`, `name` */
  field: string;
  /** what is typed of the value so far, without its opening quote */
  prefix: string;
}

export const ATTRIBUTES = ["status", "name", "user", "run_id", "experiment_id", "parent_id", "start_time", "end_time"];
export const STATUSES = ["RUNNING", "FINISHED", "FAILED", "KILLED"];
const OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "~", "IN", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const COMPARISONS = new Set(["=", "==", "!=", "<>", ">", ">=", "<", "<=", "~", "!~", "like", "ilike", "regexp"]);
const KEYWORDS = ["AND", "OR", "NOT"];
const BOUNDARY = /[\s(),]/;

/** Quote a key the way the grammar reads it back: bare when it is simple, else in backticks. */
export function field(prefix: "params" | "metrics" | "tags", key: string): string {
  return /^[\w./-]+$/.test(key) ? `${prefix}.${key}` : `${prefix}.\`${key}\``;
}

/** A value as a single-quoted string of the grammar (a quote doubled, a backslash escaped). */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** A filter matching these runs: `run_id IN ('a', 'b')` (run ids are hex, so need no escaping). */
export function runIdsIn(ids: string[]): string {
  return `run_id IN (${ids.map((id) => `'${id}'`).join(", ")})`;
}

function isField(token: string): boolean {
  return /^(params|param|p|metrics|metric|m|tags|tag|t|attributes|attribute|attr|run)\.|^(min|max|last)\(/i.test(token) ||
    ATTRIBUTES.includes(token.toLowerCase());
}

/** The text before the cursor as grammar tokens: quoted strings stay whole, `(`, `)` and `,` stand alone. */
export function tokens(text: string): string[] {
  const out: string[] = [];
  const re = /\s*('(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?|[(),]|[^\s(),'"`]*`[^`]*`?|[^\s(),]+)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0] !== "") {
    if (m[1]) out.push(m[1]);
    if (re.lastIndex >= text.length) break;
  }
  return out;
}

/** The server's name of a field whose values are text ("params.lr"), or null (metrics, times). */
export function valueFieldName(token: string): string | null {
  const m = /^(params|param|p|tags|tag|t)\.(.+)$/i.exec(token);
  if (m) {
    const kind = m[1].toLowerCase().startsWith("p") ? "params" : "tags";
    const key = m[2].replace(/^[`"](.*)[`"]$/, "$1");
    return field(kind, key);
  }
  const attr = token.toLowerCase().replace(/^(attributes|attribute|attr|run)\./, "");
  if (attr === "status" || attr === "user") return attr;
  if (attr === "name" || attr === "run_name") return "name";
  return null;
}

type Context =
  | { kind: "fields"; keywords: boolean }
  | { kind: "operators" }
  | { kind: "values"; field: string | null }
  | { kind: "joiners" };

/** What may come next after these tokens. */
function context(toks: string[]): Context {
  const last = toks[toks.length - 1];
  if (last === undefined) return { kind: "fields", keywords: false };
  const low = last.toLowerCase();
  if (/^(and|or|not)$/.test(low) || last === "(") {
    // `field IN (`: values of the field; otherwise a new condition starts
    const inList = last === "(" && toks.length >= 2 && toks[toks.length - 2].toLowerCase() === "in";
    if (inList) return { kind: "values", field: fieldBefore(toks, toks.length - 2) };
    return { kind: "fields", keywords: false };
  }
  if (last === ",") {
    const open = toks.lastIndexOf("(");
    if (open >= 1 && toks[open - 1].toLowerCase() === "in") return { kind: "values", field: fieldBefore(toks, open - 1) };
    return { kind: "fields", keywords: false };
  }
  if (isField(last)) return { kind: "operators" };
  if (COMPARISONS.has(low)) return { kind: "values", field: fieldBefore(toks, toks.length - 1) };
  if (low === "null" || last === ")") return { kind: "joiners" };
  const prev = toks[toks.length - 2]?.toLowerCase();
  if (prev !== undefined && COMPARISONS.has(prev)) return { kind: "joiners" }; // field op value
  return { kind: "fields", keywords: true };
}

/** The field before the operator at `index` (`NOT IN` has a NOT between them). */
function fieldBefore(toks: string[], index: number): string | null {
  let i = index - 1;
  if (toks[i]?.toLowerCase() === "not") i--;
  const token = toks[i];
  return token && isField(token) ? valueFieldName(token) : null;
}

const CLOSED = /^'(?:[^'\\]|\\.|'')*'$|^"(?:[^"\\]|\\.|"")*"$/s;

/** Where the word at `cursor` starts (an open quoted value may hold spaces), and the tokens before it. */
function where(text: string, cursor: number) {
  const head = text.slice(0, cursor);
  let from = cursor;
  while (from > 0 && !BOUNDARY.test(text[from - 1])) from--;
  const all = tokens(head);
  const last = all[all.length - 1] ?? "";
  if (/^['"]/.test(last) && !CLOSED.test(last) && head.endsWith(last)) from = cursor - last.length;
  return { from, prefix: text.slice(from, cursor), before: tokens(text.slice(0, from)) };
}

/** The field whose value is being typed at `cursor`, if its values are text the server knows. */
export function valueField(text: string, cursor: number): ValueField | null {
  const { prefix, before } = where(text, cursor);
  const c = context(before);
  if (c.kind !== "values" || c.field === null) return null;
  return { field: c.field, prefix: prefix.replace(/^['"]/, "") };
}

/** What could be typed at `cursor` in `text`, given the keys the runs have and the known
 * values of the field being compared (from the server). */
export function complete(text: string, cursor: number, keys: Keys, limit = 50, values: string[] = []): Completion {
  const { from, prefix, before } = where(text, cursor);
  const c = context(before);
  const candidates: Suggestion[] = [];
  if (c.kind === "operators") {
    for (const op of OPERATORS) candidates.push({ label: op, insert: op + " ", kind: "operator" });
  } else if (c.kind === "joiners") {
    for (const kw of ["AND", "OR"]) candidates.push({ label: kw, insert: kw + " ", kind: "keyword" });
  } else if (c.kind === "values") {
    const known = c.field === "status" ? [...new Set([...STATUSES, ...values])] : values;
    for (const v of known) candidates.push({ label: v, insert: quote(v) + " ", kind: "value" });
  } else {
    for (const k of keys.metrics) candidates.push({ label: field("metrics", k), insert: field("metrics", k) + " ", kind: "field" });
    for (const k of keys.params) candidates.push({ label: field("params", k), insert: field("params", k) + " ", kind: "field" });
    for (const k of keys.tags) candidates.push({ label: field("tags", k), insert: field("tags", k) + " ", kind: "field" });
    for (const a of ATTRIBUTES) candidates.push({ label: a, insert: a + " ", kind: "field" });
    if (c.keywords) for (const kw of KEYWORDS) candidates.push({ label: kw, insert: kw + " ", kind: "keyword" });
  }
  const needle = (c.kind === "values" ? prefix.replace(/^['"]/, "") : prefix).toLowerCase();
  const items = candidates
    .filter((s) => s.label.toLowerCase().startsWith(needle) || (needle.length > 1 && s.label.toLowerCase().includes(needle)))
    .filter((s) => c.kind === "values" || s.label.toLowerCase() !== needle.trim())
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

/** How many runs have each key, as column ids (`m:acc`, `p:lr`): default columns prefer common keys. */
export function keyCounts(runs: { params: object; metrics: object }[]): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const r of runs) {
    for (const k in r.metrics) add("m:" + k);
    for (const k in r.params) add("p:" + k);
  }
  return counts;
}
