/** Traces (MLflow 3) from /api/v1: types, the span tree and the waterfall's geometry. */
import { request } from "./api";

export interface TraceInfo {
  trace_id: string;
  experiment_id: number;
  name: string | null;
  request_time: number;
  execution_duration: number | null;
  end_time: number | null;
  state: "OK" | "ERROR" | "IN_PROGRESS" | "STATE_UNSPECIFIED";
  run_id: string | null;
  run_ids: string[];
  client_request_id: string | null;
  request_preview: string;
  response_preview: string;
  metadata: Record<string, string>;
  tags: Record<string, string>;
}

export interface Span {
  span_id: string;
  parent_id: string | null;
  name: string;
  span_type: string;
  start_ns: number;
  end_ns: number | null;
  status: string;
  status_message: string;
  inputs: unknown;
  outputs: unknown;
  attributes: Record<string, unknown>;
  events: { name: string; time_ns: number | null; attributes: Record<string, unknown> }[];
}

export interface TracePage {
  traces: TraceInfo[];
  next_page_token: string | null;
}

export interface TraceDetail {
  info: TraceInfo;
  spans: Span[];
  problem: string | null;
  size: number;
}

const q = encodeURIComponent;

export const tracesApi = {
  ofExperiment: (id: number, filter = "", token: string | null = null) =>
    request<TracePage>("GET", `/experiments/${id}/traces?max_results=100${filter ? `&filter=${q(filter)}` : ""}${token ? `&page_token=${q(token)}` : ""}`),
  ofRun: (runId: string) => request<TracePage>("GET", `/runs/${q(runId)}/traces?max_results=1000`),
  get: (traceId: string) => request<TraceDetail>("GET", `/traces/${q(traceId)}`),
};

export interface Row {
  span: Span;
  depth: number;
  children: number;
}

/** The spans in tree order (each parent before its children, siblings by start), leaving out
 * the descendants of `collapsed` spans; a span whose parent is missing is a root. */
export function spanRows(spans: Span[], collapsed: Set<string> = new Set()): Row[] {
  const ids = new Set(spans.map((s) => s.span_id));
  const kids = new Map<string | null, Span[]>();
  for (const s of spans) {
    const parent = s.parent_id && ids.has(s.parent_id) && s.parent_id !== s.span_id ? s.parent_id : null;
    kids.set(parent, [...(kids.get(parent) ?? []), s]);
  }
  for (const list of kids.values()) list.sort((a, b) => a.start_ns - b.start_ns || a.span_id.localeCompare(b.span_id));
  // roots: spans without a parent here, then (bad data) the first span of each cycle
  const byStart = (a: Span, b: Span) => a.start_ns - b.start_ns || a.span_id.localeCompare(b.span_id);
  const roots = [...(kids.get(null) ?? [])];
  const reached = new Set<string>();
  const reach = (s: Span) => {
    const stack = [s];
    while (stack.length) {
      const next = stack.pop()!;
      if (reached.has(next.span_id)) continue;
      reached.add(next.span_id);
      stack.push(...(kids.get(next.span_id) ?? []));
    }
  };
  roots.forEach(reach);
  for (const s of [...spans].sort(byStart)) {
    if (!reached.has(s.span_id)) {
      roots.push(s);
      reach(s);
    }
  }
  const out: Row[] = [];
  const seen = new Set<string>();
  const visit = (s: Span, depth: number) => {
    if (seen.has(s.span_id)) return;
    seen.add(s.span_id);
    const children = (kids.get(s.span_id) ?? []).filter((c) => !seen.has(c.span_id));
    out.push({ span: s, depth, children: children.length });
    if (!collapsed.has(s.span_id)) children.forEach((c) => visit(c, depth + 1));
  };
  roots.forEach((s) => visit(s, 0));
  return out;
}

/** Left offset and width of a span's bar, in percent of the trace's whole timeline. */
export function bar(span: Span, start: number, end: number): { left: number; width: number } {
  const total = Math.max(end - start, 1);
  const from = Math.min(Math.max(span.start_ns - start, 0), total);
  const to = Math.min(Math.max((span.end_ns ?? end) - start, from), total);
  return { left: (from / total) * 100, width: Math.max(((to - from) / total) * 100, 0.5) };
}

/** The timeline of all spans: earliest start, latest end (ns). */
export function timeline(spans: Span[]): [number, number] {
  if (!spans.length) return [0, 1];
  const start = Math.min(...spans.map((s) => s.start_ns));
  const end = Math.max(...spans.map((s) => s.end_ns ?? s.start_ns));
  return [start, Math.max(end, start + 1)];
}

export const MAX_SHOWN = 100_000;

/** Pretty JSON of a value, cut at `max` characters (text stays text: React escapes it). */
export function pretty(value: unknown, max = MAX_SHOWN): string {
  let text: string;
  if (typeof value === "string") text = value;
  else {
    try {
      text = JSON.stringify(value, null, 2) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}\n… (${(text.length - max).toLocaleString("en-US")} more characters)` : text;
}

/** A span's duration in ms, as text. */
export function spanMs(span: Span): string {
  if (span.end_ns === null) return "running";
  const ms = (span.end_ns - span.start_ns) / 1e6;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}
