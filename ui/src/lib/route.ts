/** Routing on the History API: every view's state lives in the URL, so a link shares it. */
import { useCallback, useSyncExternalStore } from "react";

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();
let current = snapshot();

function snapshot(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

function notify() {
  current = snapshot();
  listeners.forEach((fn) => fn());
}

window.addEventListener("popstate", notify);

function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Go to a URL; `replace` keeps the history short for state that changes as you type. */
export function navigate(url: string, replace = false) {
  if (url === window.location.pathname + window.location.search) return;
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
    if (want[i].startsWith(":")) out[want[i].slice(1)] = decodeURIComponent(have[i]);
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
  return text ? text.split(",").map(decodeURIComponent).filter(Boolean) : [];
}

export function joinList(items: string[]): string {
  return items.map((s) => s.replace(/%/g, "%25").replace(/,/g, "%2C")).join(",");
}
