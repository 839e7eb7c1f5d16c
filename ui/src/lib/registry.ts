/** Client calls of the experiments overview, registry management and logged models (the
 * public REST API under /api/v1, through api.ts's request: CSRF and errors as everywhere). */
import { request, type Experiment, type ModelVersion, type RegisteredModel } from "./api";

const q = encodeURIComponent;
const tagPath = (key: string) => key.split("/").map(q).join("/");

export interface ExperimentSummary extends Experiment {
  /** active runs */
  runs: number;
  /** the latest start or end of one of its runs (ms), null without runs */
  last_run_at: number | null;
}

export interface LoggedModelMetric {
  key: string;
  value: number | string;
  step: number;
  timestamp: number;
  run_id?: string;
  dataset_name?: string;
  dataset_digest?: string;
}

export interface LoggedModel {
  id: string;
  experiment_id: number;
  name: string;
  run_id: string | null;
  run_name: string | null;
  status: "PENDING" | "READY" | "FAILED";
  status_message: string;
  model_type: string;
  created_at: number;
  updated_at: number;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: LoggedModelMetric[];
}

export interface LoggedModelPage {
  models: LoggedModel[];
  next_page_token: string | null;
}

export const experiments = {
  list: (view: "active" | "deleted" | "all" = "active", signal?: AbortSignal) =>
    request<ExperimentSummary[]>("GET", `/experiments?view=${view}`, undefined, signal),
  get: (id: number, signal?: AbortSignal) => request<Experiment>("GET", `/experiments/${id}`, undefined, signal),
  create: (name: string, description = "") => request<Experiment>("POST", "/experiments", { name, description }),
  rename: (id: number, name: string) => request<Experiment>("PATCH", `/experiments/${id}`, { name }),
  remove: (id: number) => request<Experiment>("DELETE", `/experiments/${id}`),
  restore: (id: number) => request<Experiment>("POST", `/experiments/${id}/restore`),
};

export const registry = {
  describeModel: (name: string, description: string, reason: string) =>
    request<RegisteredModel>("PATCH", `/models/${q(name)}`, { description, reason }),
  setModelTag: (name: string, key: string, value: string, reason: string) =>
    request<RegisteredModel>("PUT", `/models/${q(name)}/tags/${tagPath(key)}`, { value, reason }),
  deleteModelTag: (name: string, key: string, reason: string) =>
    request<RegisteredModel>("DELETE", `/models/${q(name)}/tags/${tagPath(key)}?reason=${q(reason)}`),
  updateVersion: (name: string, version: number, change: { description?: string; stage?: string; archive_others?: boolean }, reason: string) =>
    request<ModelVersion>("PATCH", `/models/${q(name)}/versions/${version}`, { ...change, reason }),
  setVersionTag: (name: string, version: number, key: string, value: string, reason: string) =>
    request<ModelVersion>("PUT", `/models/${q(name)}/versions/${version}/tags/${tagPath(key)}`, { value, reason }),
  deleteVersionTag: (name: string, version: number, key: string, reason: string) =>
    request<ModelVersion>("DELETE", `/models/${q(name)}/versions/${version}/tags/${tagPath(key)}?reason=${q(reason)}`),
  setAlias: (name: string, alias: string, version: number, reason: string) =>
    request<ModelVersion>("PUT", `/models/${q(name)}/aliases/${q(alias)}`, { version, reason }),
  deleteAlias: (name: string, alias: string, reason: string) =>
    request<unknown>("DELETE", `/models/${q(name)}/aliases/${q(alias)}?reason=${q(reason)}`),
  registerFromRun: (name: string, runId: string, path: string, description: string) =>
    request<ModelVersion>("POST", `/models/${q(name)}/versions/from-run`, { run_id: runId, path, description }),
  registerLoggedModel: (name: string, modelId: string, description: string) =>
    request<ModelVersion>("POST", `/models/${q(name)}/versions/from-logged-model`, { model_id: modelId, description }),
};

export const loggedModels = {
  ofExperiment: (experimentId: number, query: { filter?: string; order_by?: string; page_token?: string | null; max_results?: number }, signal?: AbortSignal) => {
    const params = new URLSearchParams();
    if (query.filter) params.set("filter", query.filter);
    if (query.order_by) params.set("order_by", query.order_by);
    if (query.page_token) params.set("page_token", query.page_token);
    params.set("max_results", String(query.max_results ?? 50));
    return request<LoggedModelPage>("GET", `/experiments/${experimentId}/logged-models?${params}`, undefined, signal);
  },
  get: (id: string) => request<LoggedModel>("GET", `/logged-models/${q(id)}`),
  ofRun: (runId: string, signal?: AbortSignal) =>
    request<{ outputs: LoggedModel[]; inputs: LoggedModel[] }>("GET", `/runs/${q(runId)}/logged-models`, undefined, signal),
};

/** The latest value of each metric of a logged model (by time, then step), as MLflow shows it. */
export function latestMetrics(metrics: LoggedModelMetric[]): Record<string, LoggedModelMetric> {
  const out: Record<string, LoggedModelMetric> = {};
  for (const m of metrics) {
    const seen = out[m.key];
    if (!seen || m.timestamp > seen.timestamp || (m.timestamp === seen.timestamp && m.step >= seen.step)) out[m.key] = m;
  }
  return out;
}

/** One readable line for an MLflow dataset source (its JSON text), e.g. "delta table x@v3";
 * `sourceType` is MLflow's (code, local, s3, http, delta_table, hugging_face, spark...). */
export function describeSource(source: string, sourceType = ""): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    return source;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return source;
  const s = parsed as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
  const version = text(s.delta_table_version ?? s.version);
  if (text(s.delta_table_name) || text(s.table_name)) {
    const name = text(s.delta_table_name) || text(s.table_name);
    return `${s.delta_table_name ? "delta table" : "table"} ${name}${version ? "@v" + version : ""}`;
  }
  if (text(s.path) && "delta_table_version" in s) return `delta table at ${text(s.path)}${version ? "@v" + version : ""}`;
  if (text(s.query)) return `SQL query: ${text(s.query)}`;
  if (text(s.uri)) return `uri ${text(s.uri)}`;
  if (text(s.url)) return `url ${text(s.url)}`;
  if (text(s.path)) return `path ${text(s.path)}`;
  if (text(s.hf_dataset_name ?? s.path_or_name)) return `Hugging Face dataset ${text(s.hf_dataset_name ?? s.path_or_name)}`;
  const tags = s.tags && typeof s.tags === "object" ? (s.tags as Record<string, unknown>) : null;
  if (sourceType === "code" || tags || Object.keys(s).length === 0) {
    const from = tags ? text(tags["mlflow.source.name"]) : "";
    return `in-memory data (a pandas DataFrame or NumPy array)${from ? ", logged by " + from : ""}`;
  }
  return Object.entries(s).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", ");
}

/** A dataset version's columns: its own schema, or the columns of an MLflow schema
 * (`{"mlflow_colspec": [{name, type}]}` or `{"mlflow_tensorspec": ...}`) kept as MLflow sent it. */
export function datasetColumns(schema: unknown[]): { name: string; type: string }[] {
  const out: { name: string; type: string }[] = [];
  for (const entry of schema) {
    if (!entry || typeof entry !== "object") continue;
    const e = entry as Record<string, unknown>;
    const spec = e.mlflow_colspec ?? e.mlflow_tensorspec;
    if (Array.isArray(spec)) {
      spec.forEach((c, i) => {
        const col = (c ?? {}) as Record<string, unknown>;
        const type = typeof col.type === "string" ? col.type : JSON.stringify(col.type ?? col.tensor_spec ?? "");
        out.push({ name: typeof col.name === "string" ? col.name : `#${i}`, type });
      });
    } else if (typeof e.name === "string") {
      out.push({ name: e.name, type: typeof e.type === "string" ? e.type : "" });
    }
  }
  return out;
}
