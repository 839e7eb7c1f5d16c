/** Routing on the History API: every view's state lives in the URL, so a link shares it. */
import { useCallback, useSyncExternalStore } from "react";
import { mayLeave } from "./leave";

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

/** `decodeURIComponent` that keeps a malformed escape (`%E0` in a hand-edited link) as typed. */
export function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Where an MLflow UI link (`#/experiments/4/runs/<id>`, printed by the mlflow client) leads
 * here; null when `hash` is not one. The fragment never reaches the server, so the app maps it. */
export function mlflowPath(hash: string): string | null {
  if (!hash.startsWith("#/")) return null;
  const [rest, search = ""] = hash.slice(2).split("?", 2);
  const query = new URLSearchParams(search);
  const parts = rest.split("/").filter(Boolean).map(decodeSafely);
  const e = encodeURIComponent;
  const [head, id, kind, sub, ...tail] = parts;
  if (head === "experiments" && id && /^\d+$/.test(id)) {
    const selected = query.get("selectedEvaluationId") ?? query.get("selectedTraceId");
    if (kind === "runs" && sub) {
      if (tail[0] === "artifacts" && tail.length > 1) {
        const path = tail.slice(1).join("/");
        const dir = tail.length > 2 ? tail.slice(1, -1).join("/") : "";
        return href(`/runs/${e(sub)}`, { tab: "artifacts", dir, path });
      }
      if (tail[0] === "artifacts") return href(`/runs/${e(sub)}`, { tab: "artifacts" });
      if (tail[0] === "traces") return href(`/runs/${e(sub)}`, { tab: "traces" });
      return `/runs/${e(sub)}`;
    }
    if (kind === "traces" && sub) return `/traces/${e(sub)}`;
    if (selected) return `/traces/${e(selected)}`;
    if (kind === "traces") return `/experiments/${id}/traces`;
    return `/experiments/${id}`;
  }
  if (head === "experiments" && !id) return "/experiments";
  if (head === "models" && id) {
    if (kind === "versions" && sub && /^\d+$/.test(sub)) return `/models/${e(id)}/versions/${sub}`;
    return `/models/${e(id)}`;
  }
  if (head === "models") return "/models";
  if (head === "compare-runs") {
    let runs: unknown = [];
    try {
      runs = JSON.parse(query.get("runs") ?? "[]");
    } catch {
      runs = [];
    }
    const ids = Array.isArray(runs) ? runs.filter((r): r is string => typeof r === "string") : [];
    return href("/compare", { runs: ids.join(",") });
  }
  if (head === "runs" && id) return `/runs/${e(id)}`; // an older MLflow shape
  return null;
}

/** An MLflow link opened here: replace it with this app's own URL for the same page. */
function adoptMlflowLink() {
  const to = mlflowPath(window.location.hash);
  if (to) window.history.replaceState(null, "", to);
}

adoptMlflowLink();
let current = snapshot();

function snapshot(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

function notify() {
  current = snapshot();
  listeners.forEach((fn) => fn());
}

window.addEventListener("popstate", () => {
  if (!mayLeave()) { // unsaved changes kept: stay on the page the user was on
    const search = current.query.toString();
    window.history.pushState(null, "", current.path + (search ? "?" + search : ""));
    return;
  }
  notify();
});
window.addEventListener("hashchange", () => {
  adoptMlflowLink();
  notify();
});

function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Go to a URL; `replace` keeps the history short for state that changes as you type. */
export function navigate(url: string, replace = false) {
  if (url === window.location.pathname + window.location.search) return;
  if (!mayLeave()) return; // unsaved changes on the page, kept at the user's word
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  notify();
  if (!replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  return useSyncExternalStore(subscribe, () => current);
}

/** Build `path?query` from a record, leaving out empty values. */
export function href(path: string, query: Record<string, string | number | null | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Match `/runs/:id` style patterns; returns the named parts or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const have = path.split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) out[want[i].slice(1)] = decodeSafely(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return out;
}

/** One query parameter as state: reading it from the URL, writing it back (replace by default). */
export function useQueryParam(name: string, fallback = ""): [string, (value: string, push?: boolean) => void] {
  const { query } = useLocation();
  const value = query.get(name) ?? fallback;
  const set = useCallback(
    (next: string, push = false) => {
      const params = new URLSearchParams(window.location.search);
      if (next === "" || next === fallback) params.delete(name);
      else params.set(name, next);
      const text = params.toString();
      navigate(window.location.pathname + (text ? "?" + text : ""), !push);
    },
    [name, fallback],
  );
  return [value, set];
}

/** A comma-separated list in the URL. */
export function splitList(text: string): string[] {
  return text ? text.split(",").map(decodeSafely).filter(Boolean) : [];
}

export function joinList(items: string[]): string {
  return items.map((s) => s.replace(/%/g, "%25").replace(/,/g, "%2C")).join(",");
}
