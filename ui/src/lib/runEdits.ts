/** Changes to one run from its page, each a call of the public REST API (permissions, CSRF and
 * audit apply), and the reads the page adds: its child runs. */
import { request, type Run, type RunPage } from "./api";

const q = encodeURIComponent;

/** The tag the SDK writes when a run's code raised: the exception's type and message. */
export const ERROR_TAG = "my.error";

export const runEdits = {
  rename: (id: string, name: string) => request<Run>("PATCH", `/runs/${q(id)}`, { name }),
  /** Set (add or change) tags in one atomic write. */
  setTags: (id: string, tags: Record<string, string>) =>
    request<unknown>("POST", `/runs/${q(id)}/log`, { run_id: id, tags }),
  deleteTag: (id: string, key: string) =>
    request<void>("DELETE", `/runs/${q(id)}/tags/${key.split("/").map(q).join("/")}`),
  remove: (id: string) => request<void>("DELETE", `/runs/${q(id)}`),
  restore: (id: string) => request<void>("POST", `/runs/${q(id)}/restore`),
  /** The runs started under this one (deleted ones too: a deleted child is still its child). */
  children: (id: string, signal?: AbortSignal) =>
    request<RunPage>(
      "POST",
      "/runs/search",
      { filter: `attributes.parent_id = '${id.replace(/'/g, "")}'`, order_by: ["attributes.start_time ASC"], max_results: 500, view: "all" },
      signal,
    ),
};

/** A tag key the user may edit here: not one the SDK or MLflow keeps for itself. */
export function userTag(key: string): boolean {
  return !key.startsWith("my.") && !key.startsWith("mlflow.");
}

/** The key metrics shown for child runs: those most children have, at most `limit`. */
export function keyMetrics(runs: Run[], limit = 4): string[] {
  const count = new Map<string, number>();
  for (const r of runs) for (const k of Object.keys(r.metrics)) if (!k.startsWith("system/")) count.set(k, (count.get(k) ?? 0) + 1);
  return [...count.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit).map(([k]) => k);
}
