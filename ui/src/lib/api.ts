/** Typed client of modelyard's public REST API (the same one the SDK uses). */

export type Status = "RUNNING" | "FINISHED" | "FAILED" | "KILLED";

export interface Experiment {
  id: number;
  name: string;
  description: string;
  lifecycle: "active" | "deleted";
  created_at: number;
  updated_at: number;
  tags: Record<string, string>;
}

export interface MetricSummary {
  last: number | string;
  step: number;
  timestamp: number;
  min: number | string;
  max: number | string;
  count: number;
}

export interface Run {
  id: string;
  experiment_id: number;
  name: string;
  status: Status;
  start_time: number;
  end_time: number | null;
  parent_id: string | null;
  user: string;
  notes: string;
  lifecycle: "active" | "deleted";
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, MetricSummary>;
}

export interface RunPage {
  runs: Run[];
  next_page_token: string | null;
}

export interface Series {
  run_id: string;
  key: string;
  steps: number[];
  values: (number | string)[];
  /** Left out when the request said `timestamps: false`. */
  timestamps?: number[];
  total: number;
  in_window?: number;
}

export interface HistoryQuery {
  run_ids: string[];
  keys: string[];
  /** Points each series keeps at most (min/max per bucket, on the server). */
  max_points?: number;
  /** Points all the series of the answer keep together, about. */
  point_budget?: number;
  x_min?: number | null;
  x_max?: number | null;
  /** false: no timestamps in the answer (an x axis by step needs none). */
  timestamps?: boolean;
}

export interface Artifact {
  path: string;
  is_dir: boolean;
  size: number | null;
}

export interface TablePreview {
  columns: string[];
  rows: unknown[][];
  total_rows: number | null;
  truncated: boolean;
}

export interface DatasetSummary {
  name: string;
  description: string;
  user: string;
  created_at: number;
  versions: number;
}

export interface ColumnProfile {
  type: string;
  count: number;
  missing: number;
  kind: "numeric" | "categorical" | string;
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  quantiles?: Record<string, number>;
  histogram?: { edges: number[]; counts: number[] };
  distinct?: number;
  top?: { value: string; count: number }[] | Record<string, number>;
}

export interface DatasetVersion {
  name: string;
  version: number;
  digest: string;
  source: string;
  num_rows: number | null;
  num_files: number;
  size_bytes: number;
  schema: { name: string; type: string; nullable: boolean }[];
  profile: Record<string, ColumnProfile>;
  description: string;
  tags: Record<string, string>;
  user: string;
  created_at: number;
  deleted_at: number | null;
}

export interface DatasetUse {
  run_id: string;
  name: string;
  version: number;
  direction: "input" | "output";
  context: string;
  digest: string;
}

export interface ModelVersion {
  name: string;
  version: number;
  source: string;
  run_id: string | null;
  /** the run's name (in the versions list only) */
  run_name?: string | null;
  description: string;
  stage: string;
  user: string;
  created_at: number;
  updated_at: number;
  tags: Record<string, string>;
  aliases: string[];
  package_digest: string | null;
  package: {
    flavor: string;
    safe: boolean;
    signature?: unknown;
    dependencies?: Record<string, string>;
    python_version?: string;
  } | null;
  trusted: boolean;
  /** from the flavor table and the file format (the server's answer, not the manifest's claim) */
  needs_trust: boolean | null;
}

export interface RegisteredModel {
  name: string;
  description: string;
  user: string;
  created_at: number;
  updated_at: number;
  tags: Record<string, string>;
  aliases: Record<string, number>;
  card: string;
  latest: Record<string, ModelVersion>;
}

export interface HistoryEntry {
  model: string;
  version: number | null;
  action: string;
  detail: Record<string, unknown>;
  user: string;
  at: number;
}

export interface Lineage {
  name: string;
  version: number;
  source: string;
  package_digest: string | null;
  run: {
    id: string;
    name: string;
    experiment_id: number;
    status: Status;
    git_commit: string | null;
    git_branch: string | null;
    params: Record<string, string>;
    metrics: Record<string, number>;
  } | null;
  datasets: { name: string; version: number; digest: string; direction: string; context: string }[];
}

export interface Gate {
  rule: string;
  passed: boolean;
  left: number | null;
  right: number | null;
  note: string;
}

export interface Promotion {
  id: number;
  name: string;
  version: number;
  stage: string | null;
  alias: string | null;
  rules: string[];
  status: "open" | "approved" | "rejected";
  proposed_by: string;
  reason: string;
  created_at: number;
  decided_by: string | null;
  decided_at: number | null;
  gates: Gate[];
  reviews: { user: string; verdict: "comment" | "approve" | "reject"; text: string; at: number }[];
}

export interface VersionDiff {
  a: number;
  b: number;
  params: Record<string, [string | null, string | null]>;
  metrics: Record<string, [number | null, number | null]>;
  signature: Record<string, unknown>;
  dependencies: Record<string, [string | null, string | null]>;
  flavor: [string, string];
}

export interface TrafficSplit {
  version: number;
  weight: number;
}

export interface Routing {
  traffic: TrafficSplit[];
  shadow: number[];
  warm: number[];
}

export interface RolloutSettings {
  strategy: "blue-green" | "canary";
  steps: number[];
  interval_s: number;
  max_error_rate_increase: number;
  max_latency_ratio: number;
  min_requests: number;
}

export interface Candidate {
  version: number;
  strategy: "blue-green" | "canary";
  phase: "loading" | "stepping";
  /** 0-based index into the rollout's steps */
  step: number;
  step_started_at: number;
  started_by: string;
  reason: string;
}

export interface Deployment extends Routing {
  name: string;
  model: string;
  /** the alias it follows, or null when pinned to a version */
  follow: string | null;
  engine: "process" | "external" | "ray";
  port: number | null;
  replicas: number;
  created_by: string;
  created_at: number;
  updated_at: number;
  revision: number;
  sticky_header: string | null;
  rollout: RolloutSettings;
  stable: number;
  previous: number | null;
  candidate: Candidate | null;
  followed: number | null;
}

/** One version in one serving process: cumulative counters since that process started. */
export interface InstanceVersion {
  state: "ready" | "loading" | "failed";
  error: string | null;
  rps: number;
  requests: number;
  errors: number;
  latency_buckets: number[];
}

export interface DeploymentInstance {
  instance: string;
  url: string;
  last_seen: number;
  stale: boolean;
  versions: Record<string, InstanceVersion>;
}

/** One version over the live instances (counts since each process started). */
export interface VersionFigures {
  instances: { ready: number; loading: number; failed: number };
  load_errors: string[];
  rps: number;
  requests: number;
  errors: number;
  error_rate: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
}

export interface DeploymentStatus extends Deployment {
  instances: DeploymentInstance[];
  stats: Record<string, VersionFigures>;
}

export interface DeploymentEvent {
  id: number;
  deployment: string;
  at: number;
  /** a user, or "controller" | "gate" | "alias" */
  actor: string;
  action: string;
  reason: string;
  before: Partial<Routing>;
  after: Partial<Routing>;
}

/** An error answered by the server: a stable code, a message, and details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const BASE = "/api/v1";
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const SIGNING = new Set(["/auth/login", "/auth/logout"]); // their 401 is an answer, not a lost session

/** How requests take part in the signed-in session (set by lib/session; no-ops with auth off). */
export const credentials = {
  /** the CSRF token every write carries in `X-CSRF-Token` (from GET /auth/session) */
  csrf: null as string | null,
  /** called on a 401 from any route but login and logout (the session ended: go to the login page) */
  onUnauthenticated: () => {},
  /** called when a write was refused for its CSRF token: read the session again (true: retry) */
  refresh: async (): Promise<boolean> => false,
};

/** A readable sentence for a 403 PERMISSION_DENIED ("You need the editor role on experiment '3'"). */
export function deniedText(message: string, details: Record<string, unknown> = {}): string {
  const held = typeof details.held === "string" ? ` (you have ${details.held})` : "";
  const m = /\bneeds the (\w+) role on (.+)$/.exec(message);
  if (m) return `You need the ${m[1]} role on ${m[2]}${held}.`;
  if (typeof details.needed === "string") return `You need the ${details.needed} role for this${held}: ${message}`;
  return `Permission denied: ${message}`;
}

async function send(method: string, path: string, body: string | undefined, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (WRITES.has(method) && credentials.csrf) headers["x-csrf-token"] = credentials.csrf;
  return fetch(BASE + path, { method, signal, headers, body, credentials: "same-origin" });
}

async function errorOf(resp: Response): Promise<ApiError> {
  let payload: { error_code?: string; message?: string; details?: Record<string, unknown> } = {};
  try {
    payload = await resp.json();
  } catch {
    /* not JSON: keep the status text */
  }
  const code = payload.error_code ?? "HTTP_" + resp.status;
  const details = payload.details && typeof payload.details === "object" ? payload.details : {};
  let message = typeof payload.message === "string" ? payload.message : resp.statusText;
  if (code === "PERMISSION_DENIED") message = deniedText(message, details);
  return new ApiError(resp.status, code, message, details);
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  let resp = await send(method, path, text, signal);
  if (!resp.ok) {
    let error = await errorOf(resp);
    if (error.code === "CROSS_SITE_REQUEST" && WRITES.has(method) && (await credentials.refresh())) {
      resp = await send(method, path, text, signal); // the session's CSRF token changed (another tab logged in)
      error = resp.ok ? error : await errorOf(resp);
    }
    if (!resp.ok) {
      if (error.status === 401 && !SIGNING.has(path)) credentials.onUnauthenticated();
      throw error;
    }
  }
  if (resp.status === 204 || resp.status === 205) return undefined as T;
  return (await resp.json()) as T;
}

/** Percent-encode each segment of a slash-separated path. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

const q = encodeURIComponent;

export interface SearchQuery {
  experiment_ids?: number[];
  filter?: string;
  order_by?: string[];
  max_results?: number;
  page_token?: string | null;
}

export const api = {
  experiments: () => request<Experiment[]>("GET", "/experiments"),
  searchRuns: (query: SearchQuery, signal?: AbortSignal) => request<RunPage>("POST", "/runs/search", query, signal),
  run: (id: string) => request<Run>("GET", `/runs/${q(id)}`),
  updateRun: (id: string, patch: { notes?: string; name?: string }) => request<Run>("PATCH", `/runs/${q(id)}`, patch),
  histories: (body: HistoryQuery, signal?: AbortSignal) => request<{ series: Series[] }>("POST", "/metrics/history", body, signal),
  artifacts: (runId: string, path = "") => request<Artifact[]>("GET", `/runs/${q(runId)}/artifacts?path=${q(path)}`),
  artifactUrl: (runId: string, path: string) => `${BASE}/runs/${q(runId)}/artifacts/${encodePath(path)}`,
  artifactTable: (runId: string, path: string, limit = 500) =>
    request<TablePreview>("GET", `/runs/${q(runId)}/previews/table/${encodePath(path)}?limit=${limit}`),
  runDatasets: (runId: string) => request<DatasetUse[]>("GET", `/runs/${q(runId)}/datasets`),
  datasets: () => request<DatasetSummary[]>("GET", "/datasets"),
  datasetVersions: (name: string) => request<DatasetVersion[]>("GET", `/datasets/${q(name)}/versions`),
  datasetRuns: (name: string) => request<DatasetUse[]>("GET", `/datasets/${q(name)}/runs`),
  models: () => request<{ models: RegisteredModel[] }>("GET", "/models"),
  model: (name: string) => request<RegisteredModel>("GET", `/models/${q(name)}`),
  modelVersions: (name: string) => request<{ versions: ModelVersion[] }>("GET", `/models/${q(name)}/versions`),
  modelHistory: (name: string) => request<HistoryEntry[]>("GET", `/models/${q(name)}/history`),
  lineage: (name: string, version: number) => request<Lineage>("GET", `/models/${q(name)}/versions/${version}/lineage`),
  compareVersions: (name: string, a: number, b: number) => request<VersionDiff>("GET", `/models/${q(name)}/compare?a=${a}&b=${b}`),
  setCard: (name: string, card: string) => request<RegisteredModel>("PUT", `/models/${q(name)}/card`, { card }),
  promotions: (name: string) => request<Promotion[]>("GET", `/models/${q(name)}/promotions`),
  checkPromotion: (id: number) => request<Gate[]>("GET", `/promotions/${id}/check`),
  comment: (id: number, body: string) => request<Promotion>("POST", `/promotions/${id}/comments`, { text: body }),
  decide: (id: number, verdict: "approve" | "reject", reason: string) =>
    request<Promotion>("POST", `/promotions/${id}/${verdict}`, { comment: reason }),
  deployments: () => request<{ deployments: Deployment[] }>("GET", "/deployments"),
  deployment: (name: string, signal?: AbortSignal) => request<DeploymentStatus>("GET", `/deployments/${q(name)}`, undefined, signal),
  deploymentHistory: (name: string, signal?: AbortSignal) => request<DeploymentEvent[]>("GET", `/deployments/${q(name)}/history`, undefined, signal),
  promote: (name: string, body: { version: number; strategy?: "blue-green" | "canary"; reason: string; revision?: number }) =>
    request<Deployment>("POST", `/deployments/${q(name)}/promote`, body),
  rollback: (name: string, body: { reason: string; revision?: number }) => request<Deployment>("POST", `/deployments/${q(name)}/rollback`, body),
};

/** Runs per history request: a compare of more runs is fetched in batches. */
export const HISTORY_BATCH = 500;

/** Metric histories of any number of runs, in batches of 500 runs (one after another), each
 * batch with its share of the point budget. */
export async function historiesBatched(query: HistoryQuery, signal?: AbortSignal): Promise<Series[]> {
  const ids = query.run_ids;
  const out: Series[] = [];
  for (let i = 0; i < ids.length; i += HISTORY_BATCH) {
    const part = ids.slice(i, i + HISTORY_BATCH);
    const budget = query.point_budget && Math.max(3, Math.round((query.point_budget * part.length) / ids.length));
    const page = await api.histories({ ...query, run_ids: part, point_budget: budget }, signal);
    out.push(...page.series);
  }
  return out;
}

let turn: Promise<unknown> = Promise.resolve();

/** Run loads one at a time, in the order asked (the first chart's data arrives first instead of
 * sharing the line with every other chart); one aborted while it waits is skipped. */
export function inTurn<T>(load: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const mine = turn.then(() => {
    if (signal?.aborted) throw new DOMException("The load was called off", "AbortError");
    return load();
  });
  turn = mine.catch(() => undefined);
  return mine;
}
