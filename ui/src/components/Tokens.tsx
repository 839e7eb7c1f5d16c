/** API tokens: create one (its secret shown once), list them with their last use, revoke.
 * `service` lists every token on the server and creates service tokens (admins). */
import { useState } from "react";
import { access, SCOPES, type Scope, type Token } from "../lib/access";
import { ago, time } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { ConfirmButton, Outcome, SecretBox, useAction } from "./Action";

const DAY_MS = 86_400_000;

/** Days as typed: a positive number, or "" for a token that never expires. */
export function parseDays(text: string): number | null | "invalid" {
  const t = text.trim();
  if (t === "") return null;
  const n = Number(t);
  return Number.isFinite(n) && n > 0 && n <= 36_500 ? n : "invalid";
}

function state(t: Token, now: number): { text: string; cls: string } {
  if (t.revoked_at) return { text: `revoked ${time(t.revoked_at)}`, cls: "bad" };
  if (t.expires_at !== null && t.expires_at <= now) return { text: "expired", cls: "bad" };
  if (t.expires_at !== null && t.expires_at - now < 7 * DAY_MS) return { text: "expires soon", cls: "warn" };
  return { text: "active", cls: "ok" };
}

export function Tokens({ service = false }: { service?: boolean }) {
  const list = useAsync(() => access.tokens(service), [service]);
  const action = useAction(list.reload);
  const [secret, setSecret] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>(service ? "write" : "read");
  const [days, setDays] = useState("90");
  const expires = parseDays(days);
  const create = () =>
    action.run("Create token", async () => {
      if (expires === "invalid") throw new Error("the expiry is a number of days (empty: never)");
      const made = await access.createToken({ name: name.trim(), scope, expires_in_days: expires, service });
      setSecret(made.secret);
      setName("");
      return `Token ${made.token.name} created (${made.token.id})`;
    });
  const revoke = (t: Token) => action.run("Revoke", async () => {
    await access.revokeToken(t.id);
    return `Token ${t.name} revoked: it no longer works`;
  });
  const now = Date.now();
  const tokens = list.data?.tokens ?? [];
  return (
    <div className="tokens" data-testid={service ? "all-tokens" : "my-tokens"}>
      <form className="row action-card" onSubmit={(e) => { e.preventDefault(); void create(); }} data-testid="token-form">
        <strong>{service ? "New service token" : "New token"}</strong>
        <label>name <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={250} aria-label="token name" /></label>
        <label>
          scope{" "}
          <select value={scope} onChange={(e) => setScope(e.target.value as Scope)} aria-label="token scope">
            {SCOPES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>
          expires in <input className="days" value={days} onChange={(e) => setDays(e.target.value)} aria-label="expires in days" aria-invalid={expires === "invalid"} placeholder="never" /> days
        </label>
        <button className="primary" type="submit" disabled={action.busy || !name.trim() || expires === "invalid"}>Create</button>
        {expires === null && <span className="muted small">never expires</span>}
      </form>
      {secret && <SecretBox secret={secret} onDone={() => setSecret(null)} />}
      <Outcome action={action} testId="token" />
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      <table className="list" data-testid="tokens">
        <thead>
          <tr>
            <th>name</th><th>id</th>{service && <th>kind</th>}{service && <th>owner</th>}<th>scope</th><th>created</th><th>expires</th><th>last used</th><th>state</th><th />
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => {
            const s = state(t, now);
            return (
              <tr key={t.id} data-token={t.id}>
                <td>{t.name}</td>
                <td><code>{t.id}</code></td>
                {service && <td>{t.kind}</td>}
                {service && <td>{t.owner ?? <span className="muted">—</span>}</td>}
                <td>{t.scope}</td>
                <td title={`by ${t.created_by}`}>{time(t.created_at)}</td>
                <td>{t.expires_at ? time(t.expires_at) : <span className="muted">never</span>}</td>
                <td>{t.last_used_at ? <span title={time(t.last_used_at)}>{ago(t.last_used_at, now)}{t.last_used_from ? ` from ${t.last_used_from}` : ""}</span> : <span className="muted">never</span>}</td>
                <td className={s.cls}>{s.text}</td>
                <td>{!t.revoked_at && <ConfirmButton label="Revoke" question={`Revoke ${t.name}?`} disabled={action.busy} onConfirm={() => void revoke(t)} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {list.data && tokens.length === 0 && <p className="muted">No tokens yet.</p>}
    </div>
  );
}
