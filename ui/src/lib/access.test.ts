import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseDays } from "../components/Tokens";
import { localMs } from "../pages/Audit";
import { access, changeRows, safeNext, shown } from "./access";
import { ApiError, credentials, deniedText, request } from "./api";

type Call = { url: string; init: RequestInit };

/** A fetch answering from a queue of [status, body] and keeping every call. */
function fakeFetch(answers: [number, unknown][]): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const [status, body] = answers.shift() ?? [500, {}];
    return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  });
  return calls;
}

function header(call: Call, name: string): string | undefined {
  return (call.init.headers as Record<string, string>)[name];
}

describe("requests in a session", () => {
  const saved = { ...credentials };
  beforeEach(() => {
    credentials.csrf = "csrf-1";
  });
  afterEach(() => {
    Object.assign(credentials, saved);
    vi.unstubAllGlobals();
  });

  it("sends same-origin credentials always and the CSRF token on writes only", async () => {
    const calls = fakeFetch([[200, []], [200, {}], [204, null]]);
    await request("GET", "/experiments");
    await request("PATCH", "/runs/r1", { notes: "x" });
    await request("DELETE", "/tokens/t1");
    expect(calls.map((c) => c.init.credentials)).toEqual(["same-origin", "same-origin", "same-origin"]);
    expect(header(calls[0], "x-csrf-token")).toBeUndefined();
    expect(header(calls[1], "x-csrf-token")).toBe("csrf-1");
    expect(header(calls[1], "content-type")).toBe("application/json");
    expect(header(calls[2], "x-csrf-token")).toBe("csrf-1");
  });

  it("sends no CSRF header when there is no session (auth off)", async () => {
    credentials.csrf = null;
    const calls = fakeFetch([[200, {}]]);
    await request("POST", "/runs/search", {});
    expect(header(calls[0], "x-csrf-token")).toBeUndefined();
  });

  it("reports a 401 as signed out, except from the login routes", async () => {
    const signedOut = vi.fn();
    credentials.onUnauthenticated = signedOut;
    const lost: [number, unknown] = [401, { error_code: "UNAUTHENTICATED", message: "the session has expired" }];
    fakeFetch([lost, lost, [401, { error_code: "UNAUTHENTICATED", message: "wrong password" }], lost]);
    await expect(request("GET", "/experiments")).rejects.toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    await expect(access.me()).rejects.toMatchObject({ status: 401 });
    expect(signedOut).toHaveBeenCalledTimes(2);
    await expect(access.login("a", "b")).rejects.toThrow("wrong password");
    await expect(access.logout()).rejects.toMatchObject({ status: 401 });
    expect(signedOut).toHaveBeenCalledTimes(2);
  });

  it("reads the session again and retries a write refused for a stale CSRF token, once", async () => {
    credentials.refresh = async () => {
      credentials.csrf = "csrf-2";
      return true;
    };
    const calls = fakeFetch([[403, { error_code: "CROSS_SITE_REQUEST", message: "csrf" }], [200, { ok: 1 }]]);
    expect(await request("POST", "/grants", { role: "viewer" })).toEqual({ ok: 1 });
    expect(calls.map((c) => header(c, "x-csrf-token"))).toEqual(["csrf-1", "csrf-2"]);
    expect(calls[1].init.body).toBe(calls[0].init.body);
    const again = fakeFetch([[403, { error_code: "CROSS_SITE_REQUEST", message: "csrf" }], [403, { error_code: "CROSS_SITE_REQUEST", message: "still" }]]);
    await expect(request("POST", "/grants", {})).rejects.toMatchObject({ code: "CROSS_SITE_REQUEST", message: "still" });
    expect(again).toHaveLength(2);
  });

  it("words a missing role as a sentence and keeps the code", async () => {
    fakeFetch([[403, { error_code: "PERMISSION_DENIED", message: "bob needs the editor role on experiment '3'", details: { needed: "editor", held: "viewer" } }]]);
    const err = await request("PATCH", "/runs/r1", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, code: "PERMISSION_DENIED", message: "You need the editor role on experiment '3' (you have viewer)." });
  });

  it("keeps an answer that is not JSON readable", async () => {
    vi.stubGlobal("fetch", async () => new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    await expect(request("GET", "/x")).rejects.toMatchObject({ status: 502, code: "HTTP_502", message: "Bad Gateway" });
  });
});

describe("access helpers", () => {
  it("words permission refusals", () => {
    expect(deniedText("alice needs the admin role on the server")).toBe("You need the admin role on the server.");
    expect(deniedText("this needs the editor role", { needed: "editor" })).toBe("You need the editor role for this: this needs the editor role");
    expect(deniedText("a read token cannot create")).toBe("Permission denied: a read token cannot create");
  });

  it("keeps next inside the app", () => {
    expect(safeNext("/experiments/3?filter=a")).toBe("/experiments/3?filter=a");
    for (const bad of [null, "", "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/login", "/login?next=/x", "/a\nb", "/a\\b"]) {
      expect(safeNext(bad)).toBe("/");
    }
  });

  it("builds URLs with encoded filters", () => {
    expect(access.ssoUrl("/runs/a b")).toBe("/api/v1/auth/oidc/login?next=%2Fruns%2Fa+b");
    expect(access.exportUrl("csv", { actor: "al&ice", since: 5, after_seq: 7, limit: 3, action: "" })).toBe("/api/v1/audit/export?format=csv&actor=al%26ice&since=5");
  });

  it("reads a record's changes in every shape", () => {
    expect(changeRows({ before: { role: "viewer", x: 1 }, after: { role: "editor" } })).toEqual([
      { key: "role", before: "viewer", after: "editor" },
      { key: "x", before: 1, after: undefined },
    ]);
    expect(changeRows({ disabled: [false, true], name: "bob" })).toEqual([
      { key: "disabled", before: false, after: true },
      { key: "name", before: undefined, after: "bob" },
    ]);
    expect(changeRows({ before: null, after: "x" })).toEqual([{ key: "", before: null, after: "x" }]);
    expect(changeRows(null)).toEqual([]);
    expect(changeRows([1, 2])).toEqual([]);
    expect(shown({ a: [1] })).toBe('{"a":[1]}');
    expect(shown("<b>")).toBe("<b>");
    expect(shown(undefined)).toBe("");
  });

  it("parses token expiry days and audit times", () => {
    expect(parseDays("90")).toBe(90);
    expect(parseDays(" 0.5 ")).toBe(0.5);
    expect(parseDays("")).toBeNull();
    for (const bad of ["0", "-1", "abc", "1e9", "NaN"]) expect(parseDays(bad)).toBe("invalid");
    expect(localMs("")).toBeNull();
    expect(localMs("nonsense")).toBeNull();
    expect(localMs("2024-05-01T10:30")).toBe(new Date(2024, 4, 1, 10, 30).getTime());
  });
});
