/** Who uses the app: the server's session, read once at start and after logging in or out.
 *
 * With access control off (`auth` false) there is no login and no account; with it on and no
 * user, the app shows the login page, and a 401 from any call brings it back (`next` = where the
 * user was). Writes carry the session's CSRF token (lib/api's `credentials`). */
import { useSyncExternalStore } from "react";
import { access, safeNext, type SessionInfo } from "./access";
import { ApiError, credentials } from "./api";
import { navigate } from "./route";

export type SessionState = { status: "loading" } | { status: "error"; error: Error } | { status: "ready"; session: SessionInfo };

const AUTH_OFF: SessionInfo = { auth: false, sso: false, user: null, csrf: null };
const listeners = new Set<() => void>();
let state: SessionState = { status: "loading" };

function set(next: SessionState) {
  state = next;
  credentials.csrf = next.status === "ready" ? next.session.csrf : null;
  listeners.forEach((fn) => fn());
}

/** Read the session from the server (a server without the route has access control off). */
export async function loadSession(): Promise<SessionInfo> {
  try {
    const session = await access.session();
    set({ status: "ready", session });
    return session;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      set({ status: "ready", session: AUTH_OFF });
      return AUTH_OFF;
    }
    set({ status: "error", error: err as Error });
    throw err;
  }
}

export function useSession(): SessionState {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => state,
  );
}

/** The current page as a `next` for the login page. */
export function here(): string {
  return window.location.pathname + window.location.search;
}

export function loginHref(next: string): string {
  const target = safeNext(next);
  return target === "/" ? "/login" : "/login?next=" + encodeURIComponent(target);
}

/** Log in with a password; then go to `next` (a path in this app). */
export async function login(name: string, password: string, next: string): Promise<void> {
  const session = await access.login(name, password);
  set({ status: "ready", session });
  if (!session.csrf) await loadSession(); // an answer without the token: read it
  navigate(safeNext(next), true);
}

export async function logout(): Promise<void> {
  try {
    await access.logout();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) throw err; // already signed out
  }
  signedOut("/login");
}

function signedOut(to: string) {
  if (state.status === "ready" && state.session.auth) set({ status: "ready", session: { ...state.session, user: null, csrf: null } });
  navigate(to, true);
}

credentials.onUnauthenticated = () => {
  if (state.status !== "ready" || !state.session.auth) return;
  const where = window.location.pathname === "/login" ? window.location.pathname + window.location.search : loginHref(here());
  signedOut(where);
};

credentials.refresh = async () => {
  if (state.status !== "ready" || !state.session.auth) return false;
  const before = credentials.csrf;
  try {
    const session = await loadSession();
    return session.csrf !== null && session.csrf !== before;
  } catch {
    return false;
  }
};
