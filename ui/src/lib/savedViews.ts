/** Saved views of an experiment's runs page (the page's query string under a name), on the
 * public REST API: GET/POST /experiments/{id}/views, GET/PATCH/DELETE …/views/{view_id}. */
import { request } from "./api";

export interface SavedView {
  id: number;
  experiment_id: number;
  name: string;
  /** the runs page's URL query string, without "?" */
  query: string;
  owner: string;
  created_at: number;
  updated_at: number;
}

const base = (experimentId: number) => `/experiments/${experimentId}/views`;

export const savedViews = {
  list: (experimentId: number, signal?: AbortSignal) => request<SavedView[]>("GET", base(experimentId), undefined, signal),
  get: (experimentId: number, id: number) => request<SavedView>("GET", `${base(experimentId)}/${id}`),
  create: (experimentId: number, name: string, query: string) => request<SavedView>("POST", base(experimentId), { name, query }),
  update: (experimentId: number, id: number, patch: { name?: string; query?: string }) =>
    request<SavedView>("PATCH", `${base(experimentId)}/${id}`, patch),
  remove: (experimentId: number, id: number) => request<void>("DELETE", `${base(experimentId)}/${id}`),
};

/** The page's query string as a view keeps it: without "?" and without a `view` parameter. */
export function viewQuery(search: string): string {
  const params = new URLSearchParams(search);
  params.delete("view");
  return params.toString();
}

/** Where a view opens: the runs page with its query string. */
export function viewHref(experimentId: number, query: string): string {
  return `/experiments/${experimentId}` + (query ? `?${query}` : "");
}

/** The shareable link of a view (it resolves to the view's query string when opened). */
export function viewLink(experimentId: number, id: number, origin = window.location.origin): string {
  return `${origin}/experiments/${experimentId}?view=${id}`;
}

/** The view the page shows now, if its query string is one of them (the same parameters). */
export function activeView(views: SavedView[], search: string): SavedView | undefined {
  const now = normalized(viewQuery(search));
  return views.find((v) => normalized(v.query) === now);
}

function normalized(query: string): string {
  const params = new URLSearchParams(query);
  params.sort();
  return params.toString();
}
