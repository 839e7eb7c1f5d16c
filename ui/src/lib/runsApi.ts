/** The runs routes the runs page uses beyond api.ts: lifecycle, all pages of a search, field values. */
import { request, type Run, type RunPage, type SearchQuery } from "./api";

export type RunView = "active" | "deleted";

export interface RunSearch extends SearchQuery {
  view?: RunView | "all";
}

const q = encodeURIComponent;
const PAGE = 5000;

export const runsApi = {
  search: (query: RunSearch, signal?: AbortSignal) => request<RunPage>("POST", "/runs/search", query, signal),
  delete: (id: string) => request<void>("DELETE", `/runs/${q(id)}`),
  restore: (id: string) => request<void>("POST", `/runs/${q(id)}/restore`),
  values: (experimentId: number, field: string, prefix: string, limit = 50, signal?: AbortSignal) =>
    request<{ field: string; values: string[] }>(
      "GET",
      `/experiments/${experimentId}/values?field=${q(field)}&prefix=${q(prefix)}&limit=${limit}`,
      undefined,
      signal,
    ),
};

/** Every run a search matches, page after page, in its order. */
export async function allRuns(query: RunSearch, signal?: AbortSignal): Promise<Run[]> {
  let token: string | null = null;
  let all: Run[] = [];
  do {
    const page: RunPage = await runsApi.search({ ...query, max_results: PAGE, page_token: token }, signal);
    all = all.concat(page.runs);
    token = page.next_page_token;
  } while (token);
  return all;
}
