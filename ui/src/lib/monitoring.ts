/** Monitoring (issue 14): the REST shapes of /api/v1/monitoring, its client, and the pure
 * transforms the Monitoring page draws from. Everything the server sends is checked here:
 * a figure that is not a finite number is "no data" (null), never 0. */
import { request } from "./api";

const q = encodeURIComponent;

export type Figures = Record<string, number | null>;

export interface OverviewEntry {
  name: string;
  model: string;
  window_s: number;
  figures: Figures;
  alerts_firing?: number;
}

export interface QualityPoint {
  start_ms: number;
  version: number | null;
  segment: string | null;
  predictions: number;
  labelled: number;
  realized: Figures;
  estimated: Figures;
}

export interface Quality {
  deployment: string;
  task: "classification" | "regression" | null;
  window_s: number;
  points: QualityPoint[];
}

export interface HealthPoint {
  start_ms: number;
  requests: number | null;
  errors: number | null;
  error_rate: number | null;
  throughput_rps: number | null;
  latency_p50_ms: number | null;
  latency_p90_ms: number | null;
  latency_p99_ms: number | null;
  availability: number | null;
}

export interface Health {
  window_s: number;
  points: HealthPoint[];
  availability: { objective: number; uptime: number | null; probes: number; budget_remaining: number | null };
}

/** Reference vs current on the same bins (numeric) or categories: shares of each side. */
export interface Distribution {
  kind: "bins" | "categories";
  /** one label per bar: "[0.5, 1.2)" or a category */
  labels: string[];
  reference: number[];
  current: number[];
}

export interface DriftColumn {
  column: string;
  kind: string;
  method: string;
  score: number | null;
  threshold: number | null;
  p_value: number | null;
  drifted: boolean;
  missing_reference: number | null;
  missing_current: number | null;
  out_of_range: number | null;
  distribution: Distribution | null;
  /** why a column was not tested, etc. */
  note: string;
}

export interface Drift {
  deployment: string;
  reference: Record<string, unknown>;
  current: Record<string, unknown>;
  /** rows compared on each side (null: not said) */
  n_reference: number | null;
  n_current: number | null;
  drifted_share: number | null;
  dataset_drift: boolean;
  drift_share: number | null;
  columns: DriftColumn[];
  schema: { column: string; change: string; detail: string }[];
}

export interface AlertRule {
  id: number;
  name: string;
  deployment: string;
  metric: string;
  window_s: number;
  op: string;
  threshold: number;
  for_s: number;
  enabled: boolean;
  state: string;
  /** state, or "no_data" when the last evaluation had no figure */
  status?: string;
  silenced_until: number | null;
  last_value: number | null;
  last_evaluated: number | null;
}

export interface Firing {
  id: number;
  rule_id: number;
  rule_name: string;
  deployment: string;
  started_at: number;
  ended_at: number | null;
  value: number | null;
  status: string;
  acknowledged_by: string | null;
}

type Params = Record<string, string | number | null | undefined>;

/** `?a=1&b=2` from the set values (none: ""). */
export function query(params: Params): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  const text = p.toString();
  return text ? "?" + text : "";
}

/** A list answer as `[...]` or `{key: [...]}`; anything else is empty. */
export function listOf<T>(answer: unknown, key: string): T[] {
  if (Array.isArray(answer)) return answer as T[];
  if (answer && typeof answer === "object" && Array.isArray((answer as Record<string, unknown>)[key])) return (answer as Record<string, T[]>)[key];
  return [];
}

const M = "/monitoring";

export const monitoringApi = {
  overview: (window: string, signal?: AbortSignal) =>
    request<{ deployments: OverviewEntry[] }>("GET", `${M}/deployments${query({ window })}`, undefined, signal).then((a) => listOf<OverviewEntry>(a, "deployments")),
  quality: (name: string, p: Params, signal?: AbortSignal) => request<Quality>("GET", `${M}/deployments/${q(name)}/quality${query(p)}`, undefined, signal),
  health: (name: string, p: Params, signal?: AbortSignal) => request<Health>("GET", `${M}/deployments/${q(name)}/health${query(p)}`, undefined, signal),
  drift: (name: string, p: Params, signal?: AbortSignal) =>
    request<unknown>("GET", `${M}/deployments/${q(name)}/drift${query(p)}`, undefined, signal).then(normalizeDrift),
  reportUrl: (name: string, p: Params) => `/api/v1${M}/deployments/${q(name)}/report${query(p)}`,
  rules: (deployment: string, signal?: AbortSignal) =>
    request<unknown>("GET", `${M}/alerts/rules${query({ deployment })}`, undefined, signal).then((a) => listOf<AlertRule>(a, "rules")),
  firings: (deployment: string, signal?: AbortSignal) =>
    request<unknown>("GET", `${M}/alerts/firings${query({ deployment })}`, undefined, signal).then((a) => listOf<Firing>(a, "firings")),
  silence: (id: number, minutes: number) => request<unknown>("POST", `${M}/alerts/rules/${id}/silence`, { minutes }),
  unsilence: (id: number) => request<unknown>("POST", `${M}/alerts/rules/${id}/unsilence`, {}),
  acknowledge: (id: number) => request<unknown>("POST", `${M}/alerts/firings/${id}/acknowledge`, {}),
  resolve: (id: number) => request<unknown>("POST", `${M}/alerts/firings/${id}/resolve`, {}),
};

// ---- values ---------------------------------------------------------------------------------

/** A finite number, else null (null, undefined, NaN, strings, booleans: no data). */
export function finite(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

/** A figure as text: "—" when there is no data (never "0"). */
export function figureText(x: unknown, kind: "ratio" | "percent" | "ms" | "rps" | "count" | "plain" = "plain"): string {
  const v = finite(x);
  if (v === null) return "—";
  switch (kind) {
    case "percent":
      return `${Number((v * 100).toPrecision(4))}%`;
    case "ms":
      return v >= 100 ? `${Math.round(v).toLocaleString("en-US")} ms` : `${Number(v.toPrecision(3))} ms`;
    case "rps":
      return `${Number(v.toPrecision(3))}/s`;
    case "count":
      return Math.round(v).toLocaleString("en-US");
    default:
      return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
  }
}

/** How a figure is written, by its name. */
export function kindOf(figure: string): "percent" | "ms" | "rps" | "count" | "plain" {
  if (figure.endsWith("_ms")) return "ms";
  if (figure === "throughput_rps") return "rps";
  if (figure === "requests" || figure === "errors") return "count";
  if (figure === "error_rate" || figure === "availability" || figure === "drift_share") return "percent";
  return "plain";
}

/** The quality figures of a task, in the order the page shows them. */
export function qualityFigures(task: string | null | undefined, points: QualityPoint[] = []): string[] {
  if (task === "classification") return ["accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"];
  if (task === "regression") return ["mae", "rmse", "r2"];
  // unknown task: whatever the points carry, realized names first
  const seen = new Set<string>();
  for (const p of points) {
    Object.keys(p.realized ?? {}).forEach((k) => seen.add(k));
    Object.keys(p.estimated ?? {}).forEach((k) => seen.add(k.replace(/^estimated_/, "")));
  }
  return [...seen].sort();
}

/** The estimated figure that goes with a realized one (CBPE: classifiers only, no log loss). */
export function estimatedName(figure: string): string {
  return "estimated_" + figure;
}

/** A figure of a point's realized or estimated map; the estimated one under either name. */
function pick(map: Figures | undefined, name: string): number | null {
  if (!map || typeof map !== "object") return null;
  return finite(map[name]);
}

export interface ChartSeries {
  label: string;
  /** the version it belongs to (null: all versions together) */
  version: number | null;
  estimated: boolean;
}

export interface ChartData {
  /** x in seconds since the epoch (uPlot's time axis) */
  x: number[];
  ys: (number | null)[][];
  series: ChartSeries[];
}

/** Versions present in the points, ascending (null: the points are not split by version). */
export function versionsIn(points: { version?: number | null }[]): (number | null)[] {
  const set = new Set<number | null>();
  for (const p of points) set.add(typeof p.version === "number" ? p.version : null);
  return [...set].sort((a, b) => (a ?? -1) - (b ?? -1));
}

function versionLabel(v: number | null): string {
  return v === null ? "all" : `v${v}`;
}

/**
 * One chart of a quality figure: per version a realized line and (if any point has one) an
 * estimated line, on one x grid of window starts; null where a window has no figure.
 */
export function qualitySeries(points: QualityPoint[], figure: string): ChartData {
  const rows = points.filter((p) => finite(p.start_ms) !== null && (p.segment === null || p.segment === undefined));
  const starts = [...new Set(rows.map((p) => p.start_ms))].sort((a, b) => a - b);
  const index = new Map(starts.map((s, i) => [s, i]));
  const series: ChartSeries[] = [];
  const ys: (number | null)[][] = [];
  for (const v of versionsIn(rows)) {
    const mine = rows.filter((p) => (typeof p.version === "number" ? p.version : null) === v);
    for (const estimated of [false, true]) {
      const line: (number | null)[] = starts.map(() => null);
      let any = false;
      for (const p of mine) {
        const y = estimated ? pick(p.estimated, estimatedName(figure)) ?? pick(p.estimated, figure) : pick(p.realized, figure);
        if (y !== null) {
          line[index.get(p.start_ms)!] = y;
          any = true;
        }
      }
      if (!any) continue;
      series.push({ label: `${estimated ? "estimated" : "realized"} ${versionLabel(v)}`, version: v, estimated });
      ys.push(line);
    }
  }
  return { x: starts.map((s) => s / 1000), ys, series };
}

/** Predictions and labelled predictions per version over the points. */
export function labelledCounts(points: QualityPoint[]): { version: number | null; predictions: number; labelled: number }[] {
  const by = new Map<number | null, { predictions: number; labelled: number }>();
  for (const p of points) {
    if (p.segment !== null && p.segment !== undefined) continue;
    const v = typeof p.version === "number" ? p.version : null;
    const t = by.get(v) ?? { predictions: 0, labelled: 0 };
    t.predictions += Math.max(0, finite(p.predictions) ?? 0);
    t.labelled += Math.max(0, finite(p.labelled) ?? 0);
    by.set(v, t);
  }
  return [...by.entries()].sort(([a], [b]) => (a ?? -1) - (b ?? -1)).map(([version, t]) => ({ version, ...t }));
}

/** True when predictions were logged but none is labelled yet: only estimates can be shown. */
export function estimatedOnly(points: QualityPoint[]): boolean {
  const counts = labelledCounts(points);
  return counts.some((c) => c.predictions > 0) && counts.every((c) => c.labelled === 0);
}

/** The latest window's value of a figure (realized), per version; null when none has one. */
export function latest(points: QualityPoint[], figure: string, version: number | null, estimated = false): number | null {
  const mine = points
    .filter((p) => (p.segment === null || p.segment === undefined) && (version === null || p.version === version))
    .sort((a, b) => b.start_ms - a.start_ms);
  for (const p of mine) {
    const y = estimated ? pick(p.estimated, estimatedName(figure)) ?? pick(p.estimated, figure) : pick(p.realized, figure);
    if (y !== null) return y;
  }
  return null;
}

/** Health charts: the named figures of the points on one x grid (null: no data in a window). */
export function healthSeries(points: HealthPoint[], figures: (keyof HealthPoint)[]): ChartData {
  const rows = points.filter((p) => finite(p.start_ms) !== null).sort((a, b) => a.start_ms - b.start_ms);
  return {
    x: rows.map((p) => p.start_ms / 1000),
    ys: figures.map((f) => rows.map((p) => finite(p[f]))),
    series: figures.map((f) => ({ label: String(f), version: null, estimated: false })),
  };
}

/** Does a chart have anything to draw? */
export function hasPoints(data: ChartData): boolean {
  return data.ys.some((ys) => ys.some((y) => y !== null));
}

// ---- drift ----------------------------------------------------------------------------------

function obj(x: unknown): Record<string, unknown> {
  return x && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}

function text(x: unknown): string {
  return typeof x === "string" ? x : typeof x === "number" || typeof x === "boolean" ? String(x) : "";
}

function numbers(x: unknown): number[] {
  return Array.isArray(x) ? x.map((v) => finite(v) ?? 0) : [];
}

/** Shares from counts (or shares): each side sums to 1; an empty side stays all 0. */
export function shares(values: number[]): number[] {
  const clean = values.map((v) => (v > 0 ? v : 0));
  const total = clean.reduce((a, b) => a + b, 0);
  return total > 0 ? clean.map((v) => v / total) : clean;
}

function edgeText(v: number): string {
  return figureText(v);
}

/** A column's distributions, from the shapes the drift report may send: `{edges, reference,
 * current}` (bins), `{categories|values|labels, reference, current}`, or `{reference: {edges,
 * counts}, current: {...}}`; counts become shares. */
export function normalizeDistribution(raw: unknown): Distribution | null {
  const d = obj(raw);
  if (!Object.keys(d).length) return null;
  let ref: unknown = d.reference ?? d.ref;
  let cur: unknown = d.current ?? d.cur;
  let edges: number[] | null = Array.isArray(d.edges) || Array.isArray(d.bins) ? numbers(d.edges ?? d.bins) : null;
  let cats: string[] | null = null;
  for (const k of ["categories", "values", "labels"]) if (Array.isArray(d[k]) && (d[k] as unknown[]).length) cats = (d[k] as unknown[]).map(text);
  if (cats && d.other === true) cats = [...cats, "other"]; // the last cell holds every category not listed
  if (!Array.isArray(ref) && obj(ref).counts !== undefined) {
    edges = edges ?? (Array.isArray(obj(ref).edges) ? numbers(obj(ref).edges) : null);
    ref = obj(ref).counts ?? obj(ref).shares;
    cur = obj(cur).counts ?? obj(cur).shares;
  }
  const r = numbers(ref);
  const c = numbers(cur);
  const n = Math.max(r.length, c.length);
  if (n === 0) return null;
  let labels: string[];
  let kind: Distribution["kind"];
  if (cats && cats.length >= n) {
    labels = cats.slice(0, n);
    kind = "categories";
  } else if (edges && edges.length === n + 1) {
    labels = Array.from({ length: n }, (_, i) => `${edgeText(edges![i])} – ${edgeText(edges![i + 1])}`);
    kind = "bins";
  } else {
    labels = Array.from({ length: n }, (_, i) => String(i + 1));
    kind = text(d.kind) === "categorical" ? "categories" : "bins";
  }
  const pad = (xs: number[]) => [...xs, ...Array(n - xs.length).fill(0)];
  return { kind, labels, reference: shares(pad(r)), current: shares(pad(c)) };
}

/** A share from a column's fields: `a` if present, else `b.side` (e.g. missing.current). */
function shareOf(c: Record<string, unknown>, flat: string[], nested: [string, string]): number | null {
  for (const k of flat) if (finite(c[k]) !== null) return finite(c[k]);
  return finite(obj(c[nested[0]])[nested[1]]);
}

export function normalizeColumn(raw: unknown): DriftColumn {
  const c = obj(raw);
  return {
    column: text(c.column ?? c.name),
    kind: text(c.kind),
    method: text(c.method ?? c.stattest),
    score: finite(c.score),
    threshold: finite(c.threshold),
    p_value: finite(c.p_value),
    drifted: c.drifted === true,
    missing_reference: shareOf(c, ["missing_reference", "reference_missing", "missing_share_reference"], ["missing", "reference"]),
    missing_current: shareOf(c, ["missing_current", "current_missing", "missing_share_current", "missing_share"], ["missing", "current"]),
    out_of_range: shareOf(c, ["out_of_range", "out_of_range_share", "new_categories"], ["out_of_range", "share"]),
    distribution: normalizeDistribution(c.distribution ?? c.distributions ?? c.histogram),
    note: text(c.note),
  };
}

/** Drifted columns first, then by name (a stable order the user can scan). */
export function sortDrift(columns: DriftColumn[]): DriftColumn[] {
  return [...columns].sort((a, b) => Number(b.drifted) - Number(a.drifted) || a.column.localeCompare(b.column));
}

function schemaList(x: unknown): Drift["schema"] {
  const list = Array.isArray(x) ? x : [];
  return list.map((s) => {
    const o = obj(s);
    const types = o.reference_type || o.current_type ? `${text(o.reference_type) || "—"} → ${text(o.current_type) || "—"}` : "";
    return { column: text(o.column ?? o.name), change: text(o.change ?? o.kind ?? o.finding), detail: text(o.detail ?? o.message) || types };
  });
}

/** The drift answer, checked: unknown shapes give empty parts, never an exception. */
export function normalizeDrift(raw: unknown): Drift {
  const d = obj(raw);
  const columns = (Array.isArray(d.columns) ? d.columns : Object.entries(obj(d.columns)).map(([k, v]) => ({ column: k, ...obj(v) }))).map(normalizeColumn);
  const drifted = columns.filter((c) => c.drifted).length;
  const share = finite(d.drifted_share) ?? (columns.length ? drifted / columns.length : null);
  return {
    deployment: text(d.deployment),
    reference: typeof d.reference === "string" ? { kind: d.reference } : obj(d.reference),
    current: obj(d.current),
    n_reference: finite(obj(d.reference).rows) ?? finite(d.n_reference),
    n_current: finite(obj(d.current).rows) ?? finite(d.n_current),
    drifted_share: share,
    dataset_drift: d.dataset_drift === true,
    drift_share: finite(d.drift_share) ?? finite(d.share_threshold),
    columns: sortDrift(columns),
    schema: schemaList(d.schema ?? d.schema_changes ?? d.schema_findings),
  };
}

// ---- alerts ---------------------------------------------------------------------------------

/** A duration in seconds as "5m", "1h", "90s". */
export function durationText(s: number | null | undefined): string {
  const v = finite(s);
  if (v === null) return "—";
  if (v >= 86400 && v % 86400 === 0) return `${v / 86400}d`;
  if (v >= 3600 && v % 3600 === 0) return `${v / 3600}h`;
  if (v >= 60 && v % 60 === 0) return `${v / 60}m`;
  return `${v}s`;
}

/** "error_rate > 0.05 over 5m for 2m". */
export function conditionText(r: Pick<AlertRule, "metric" | "op" | "threshold" | "window_s" | "for_s">): string {
  const base = `${r.metric} ${r.op} ${figureText(r.threshold)} over ${durationText(r.window_s)}`;
  return finite(r.for_s) ? `${base} for ${durationText(r.for_s)}` : base;
}

const STATES = ["ok", "pending", "firing", "no_data", "resolved"];

/** The state to show: the server's status (no_data) or state; anything else is "unknown". */
export function ruleState(r: Pick<AlertRule, "state" | "status">): string {
  const s = r.status ?? r.state;
  return STATES.includes(s) ? s : "unknown";
}

/** Is the rule silenced at `now`? */
export function silencedNow(r: Pick<AlertRule, "silenced_until">, now: number): boolean {
  const until = finite(r.silenced_until);
  return until !== null && until > now;
}

/** Firings newest first, open ones before resolved ones. */
export function sortFirings(firings: Firing[]): Firing[] {
  return [...firings].sort((a, b) => Number(b.status !== "resolved") - Number(a.status !== "resolved") || b.started_at - a.started_at);
}

// ---- windows and spans ----------------------------------------------------------------------

export const WINDOWS = ["5m", "1h", "1d"] as const;
export const SPANS: Record<string, number> = { "1h": 3_600_000, "6h": 6 * 3_600_000, "1d": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };

/** [since, until) of a span ending now; an unknown span is a day. */
export function spanOf(span: string, now: number): { since: number; until: number } {
  const length = SPANS[span] ?? SPANS["1d"];
  return { since: now - length, until: now };
}

/** The window just before a span (the reference when comparing against a window). */
export function previousSpan(span: string, now: number): { since: number; until: number } {
  const { since, until } = spanOf(span, now);
  return { since: since - (until - since), until: since };
}
