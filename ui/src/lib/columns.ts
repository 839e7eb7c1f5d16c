/** Runs-table columns as short ids kept in the URL: `p:lr`, `m:accuracy`, `t:team`, or an attribute. */
import type { Run } from "./api";
import { field, type Keys } from "./complete";
import { toNumber } from "./format";

export type Kind = "p" | "m" | "t" | "a";

export interface ColumnId {
  kind: Kind;
  key: string;
}

export const ATTRIBUTE_COLUMNS = ["name", "status", "start_time", "duration", "user"] as const;

export function parseColumn(id: string): ColumnId {
  const m = /^([pmt]):(.*)$/s.exec(id);
  return m ? { kind: m[1] as Kind, key: m[2] } : { kind: "a", key: id };
}

export function columnId(c: ColumnId): string {
  return c.kind === "a" ? c.key : `${c.kind}:${c.key}`;
}

/** The search-grammar field that orders by this column (null when the server cannot sort by it). */
export function sortField(id: string): string | null {
  const c = parseColumn(id);
  if (c.kind === "p") return field("params", c.key);
  if (c.kind === "m") return field("metrics", c.key);
  if (c.kind === "t") return field("tags", c.key);
  return c.key === "duration" ? null : c.key;
}

/** `-m:acc` (descending) to an order_by clause. */
export function orderBy(sort: string): string[] {
  if (!sort) return [];
  const desc = sort.startsWith("-");
  const f = sortField(desc ? sort.slice(1) : sort);
  return f ? [`${f} ${desc ? "DESC" : "ASC"}`] : [];
}

/** The value a run has in a column (numbers for metrics). */
export function cellValue(run: Run, id: string, now = Date.now()): string | number | null {
  const c = parseColumn(id);
  if (c.kind === "p") return run.params[c.key] ?? null;
  if (c.kind === "t") return run.tags[c.key] ?? null;
  if (c.kind === "m") {
    const m = run.metrics[c.key];
    return m ? toNumber(m.last) : null;
  }
  switch (c.key) {
    case "name": return run.name;
    case "status": return run.status;
    case "start_time": return run.start_time;
    case "user": return run.user;
    case "duration": return (run.end_time ?? now) - run.start_time;
    default: return null;
  }
}

/** Columns shown before the user picks: the metrics most runs have, then the most common params
 * (ties in name order); without counts, the first keys. */
export function defaultColumns(keys: Keys, counts: Map<string, number> = new Map()): string[] {
  const common = (ids: string[]) =>
    ids
      .map((id, i) => ({ id, n: counts.get(id) ?? 0, i }))
      .sort((a, b) => b.n - a.n || a.i - b.i)
      .slice(0, 8)
      .map((c) => c.id);
  const metrics = keys.metrics.filter((k) => !k.startsWith("system/")).map((k) => `m:${k}`);
  return [...common(metrics), ...common(keys.params.map((k) => `p:${k}`))];
}

/** A column's name in CSV exports and tooltips: the search grammar's field (`metrics.acc`). */
export function columnField(id: string): string {
  const c = parseColumn(id);
  if (c.kind === "a") return c.key;
  return field(c.kind === "p" ? "params" : c.kind === "m" ? "metrics" : "tags", c.key);
}

export function columnLabel(id: string): string {
  const c = parseColumn(id);
  if (c.kind === "a") return c.key === "start_time" ? "started" : c.key;
  return c.key;
}
