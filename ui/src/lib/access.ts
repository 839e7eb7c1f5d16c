/** The access-control and audit API: the session, accounts, teams, tokens, grants, the audit log. */
import { BASE, request } from "./api";
import { href } from "./route";

export interface User {
  id: number;
  name: string;
  is_admin: boolean;
  disabled: boolean;
  email: string | null;
  sso: boolean;
  created_at: number;
  teams: string[];
}

/** GET /auth/session: `auth` false means the server has access control off. */
export interface SessionInfo {
  auth: boolean;
  sso: boolean;
  user: User | null;
  csrf: string | null;
}

export type Scope = "read" | "write" | "admin";
export type GrantRole = "viewer" | "editor" | "maintainer";
export type ResourceKind = "server" | "experiment" | "model" | "dataset" | "deployment";
export const SCOPES: Scope[] = ["read", "write", "admin"];
export const GRANT_ROLES: GrantRole[] = ["viewer", "editor", "maintainer"];
export const RESOURCE_KINDS: ResourceKind[] = ["experiment", "model", "dataset", "deployment", "server"];

export interface Token {
  id: string;
  name: string;
  kind: "personal" | "service";
  owner: string | null;
  scope: Scope;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  last_used_from: string | null;
}

export interface Grant {
  id: number;
  principal_kind: "user" | "team" | "token";
  principal: string;
  resource_kind: ResourceKind;
  resource: string;
  role: string;
  granted_by: string;
  granted_at: number;
}

export interface Team {
  name: string;
  members: string[];
}

export interface Me {
  user: User;
  via: "session" | "token" | "password";
  token: { id: string; scope: Scope } | null;
  roles: Grant[];
}

export interface AuditRecord {
  seq: number;
  at: number;
  actor: string;
  actor_kind: string;
  token_id: string | null;
  address: string;
  action: string;
  object_kind: string;
  object_id: string;
  status: number;
  changes: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export interface AuditQuery {
  actor?: string;
  object_kind?: string;
  object_id?: string;
  action?: string;
  since?: number | null;
  until?: number | null;
  limit?: number;
  /** oldest first (page on with `after_seq`) or newest first (`before_seq`) */
  order?: "asc" | "desc";
  after_seq?: number | null;
  before_seq?: number | null;
}

export interface AuditPage {
  records: AuditRecord[];
  next_after_seq: number | null;
  next_before_seq?: number | null;
}

export interface Verification {
  ok: boolean;
  records: number;
  head_seq: number;
  head_hash: string;
  problems: { seq: number | null; kind: string; message: string }[];
}

export interface TokenCreate {
  name: string;
  scope: Scope;
  expires_in_days: number | null;
  service?: boolean;
  owner?: string;
}

const q = encodeURIComponent;

export const access = {
  session: () => request<SessionInfo>("GET", "/auth/session"),
  login: (name: string, password: string) => request<SessionInfo>("POST", "/auth/login", { name, password }),
  logout: () => request<void>("POST", "/auth/logout"),
  me: () => request<Me>("GET", "/auth/me"),
  changePassword: (current: string, next: string) => request<void>("POST", "/auth/me/password", { current, new: next }),
  tokens: (all = false) => request<{ tokens: Token[] }>("GET", all ? "/tokens?all=true" : "/tokens"),
  createToken: (body: TokenCreate) => request<{ token: Token; secret: string }>("POST", "/tokens", body),
  revokeToken: (id: string) => request<Token>("DELETE", `/tokens/${q(id)}`),
  users: () => request<{ users: User[] }>("GET", "/users"),
  createUser: (body: { name: string; password?: string; is_admin?: boolean; email?: string }) => request<User>("POST", "/users", body),
  updateUser: (name: string, patch: { password?: string; is_admin?: boolean; disabled?: boolean; email?: string }) =>
    request<User>("PATCH", `/users/${q(name)}`, patch),
  deleteUser: (name: string) => request<void>("DELETE", `/users/${q(name)}`),
  teams: () => request<{ teams: Team[] }>("GET", "/teams"),
  createTeam: (name: string) => request<Team>("POST", "/teams", { name }),
  deleteTeam: (name: string) => request<void>("DELETE", `/teams/${q(name)}`),
  addMember: (team: string, user: string) => request<Team>("PUT", `/teams/${q(team)}/members/${q(user)}`),
  removeMember: (team: string, user: string) => request<Team>("DELETE", `/teams/${q(team)}/members/${q(user)}`),
  grants: (filter: { kind?: string; resource?: string; principal?: string }) =>
    request<{ grants: Grant[] }>("GET", href("/grants", filter)),
  createGrant: (body: { principal: string; kind: ResourceKind; resource: string; role: GrantRole }) => request<Grant>("POST", "/grants", body),
  deleteGrant: (id: number) => request<Grant>("DELETE", `/grants/${id}`),
  audit: (query: AuditQuery, signal?: AbortSignal) =>
    request<AuditPage>("GET", href("/audit", { ...query }), undefined, signal),
  verify: () => request<Verification>("GET", "/audit/verify"),
  exportUrl: (format: "jsonl" | "csv", query: AuditQuery) => href(`${BASE}/audit/export`, { format, ...query, limit: undefined, order: undefined, after_seq: undefined, before_seq: undefined }),
  ssoUrl: (next: string) => href(`${BASE}/auth/oidc/login`, { next }),
};

/** A `next` address that stays in this app (a path, never `//host` or a scheme), else "/". */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (/[\u0000-\u001f\\]/.test(next) || next === "/login" || next.startsWith("/login?")) return "/";
  return next;
}

/** One changed field of an audit record: its value before and after (undefined: absent). */
export interface Change {
  key: string;
  before: unknown;
  after: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The rows of a record's changes: `{before: {...}, after: {...}}` by key, `{key: [before, after]}`, or plain values. */
export function changeRows(changes: unknown): Change[] {
  if (!isRecord(changes)) return [];
  const { before, after, ...rest } = changes;
  const rows: Change[] = [];
  if (isRecord(before) || isRecord(after)) {
    const b = isRecord(before) ? before : {};
    const a = isRecord(after) ? after : {};
    for (const key of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) rows.push({ key, before: b[key], after: a[key] });
  } else if (before !== undefined || after !== undefined) {
    rows.push({ key: "", before, after });
  }
  for (const [key, value] of Object.entries(rest)) {
    if (Array.isArray(value) && value.length === 2) rows.push({ key, before: value[0], after: value[1] });
    else rows.push({ key, before: undefined, after: value });
  }
  return rows;
}

/** A value of a change as text (JSON for objects; "" for absent). */
export function shown(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
