/** Administration (server admins): users, teams, grants and every API token. */
import { useState } from "react";
import { ConfirmButton, Outcome, useAction } from "../components/Action";
import { GrantForm, GrantsTable, principalName, type PrincipalKind, useLabels } from "../components/Grants";
import { Tokens } from "../components/Tokens";
import { access, RESOURCE_KINDS, type Team, type User } from "../lib/access";
import { time } from "../lib/format";
import { useQueryParam } from "../lib/route";
import { useSession } from "../lib/session";
import { useAsync } from "../lib/useAsync";

const TABS = ["users", "teams", "grants", "tokens"] as const;

export function AdminPage() {
  const [tab, setTab] = useQueryParam("tab", "users");
  const state = useSession();
  const session = state.status === "ready" ? state.session : null;
  if (session && !session.auth) {
    return <section className="main"><h1>Admin</h1><p className="muted">Access control is off on this server (start it with <code>--auth</code>).</p></section>;
  }
  return (
    <section className="main admin">
      <h1>Admin</h1>
      <nav className="tabs" role="tablist">
        {TABS.map((t) => <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "active" : ""} onClick={() => setTab(t, true)}>{t}</button>)}
      </nav>
      {tab === "users" && <Users />}
      {tab === "teams" && <Teams />}
      {tab === "grants" && <Grants />}
      {tab === "tokens" && <Tokens service />}
    </section>
  );
}

function Users() {
  const list = useAsync(() => access.users(), []);
  const action = useAction(list.reload);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState("");
  const [admin, setAdmin] = useState(false);
  const me = useSession();
  const self = me.status === "ready" ? me.session.user?.name : undefined;
  const create = () =>
    action.run("Create user", async () => {
      const made = await access.createUser({ name: name.trim(), password: password || undefined, is_admin: admin, email: email.trim() || undefined });
      setName("");
      setPassword("");
      setEmail("");
      setAdmin(false);
      return `User ${made.name} created${made.is_admin ? " (admin)" : ""}`;
    });
  const update = (u: User, patch: { is_admin?: boolean; disabled?: boolean; password?: string }, done: string) =>
    action.run(`Change ${u.name}`, async () => {
      await access.updateUser(u.name, patch);
      return done;
    });
  const remove = (u: User) =>
    action.run(`Delete ${u.name}`, async () => {
      await access.deleteUser(u.name);
      return `User ${u.name} deleted`;
    });
  return (
    <>
      <form className="row action-card" data-testid="user-form" onSubmit={(e) => { e.preventDefault(); void create(); }}>
        <strong>New user</strong>
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="name" aria-label="user name" required maxLength={250} />
        <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} placeholder="password" aria-label="password" />
        <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} placeholder="email (optional)" aria-label="email" />
        <label><input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} /> admin</label>
        <button className="primary" type="submit" disabled={action.busy || !name.trim()}>Create</button>
      </form>
      <Outcome action={action} testId="users" />
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      <table className="list" data-testid="users">
        <thead><tr><th>name</th><th>email</th><th>role</th><th>state</th><th>teams</th><th>created</th><th /></tr></thead>
        <tbody>
          {(list.data?.users ?? []).map((u) => (
            <tr key={u.id} data-user={u.name}>
              <td>{u.name}{u.sso && <span className="badge">sso</span>}</td>
              <td>{u.email ?? ""}</td>
              <td>{u.is_admin ? "admin" : "user"}</td>
              <td className={u.disabled ? "bad" : "ok"}>{u.disabled ? "disabled" : "active"}</td>
              <td>{u.teams.join(", ")}</td>
              <td>{time(u.created_at)}</td>
              <td className="actions">
                <button disabled={action.busy || u.name === self} onClick={() => void update(u, { is_admin: !u.is_admin }, `${u.name} is ${u.is_admin ? "no longer an" : "now an"} admin`)}>
                  {u.is_admin ? "Remove admin" : "Make admin"}
                </button>
                <button disabled={action.busy || u.name === self} onClick={() => void update(u, { disabled: !u.disabled }, `${u.name} ${u.disabled ? "enabled" : "disabled"}`)}>
                  {u.disabled ? "Enable" : "Disable"}
                </button>
                {!u.sso && <SetPassword busy={action.busy} onSet={(pw) => void update(u, { password: pw }, `Password of ${u.name} set`)} />}
                <ConfirmButton label="Delete" question={`Delete ${u.name}?`} disabled={action.busy || u.name === self} onConfirm={() => void remove(u)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function SetPassword({ busy, onSet }: { busy: boolean; onSet: (password: string) => void }) {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  if (!open) return <button disabled={busy} onClick={() => setOpen(true)}>Set password</button>;
  return (
    <form className="confirm" onSubmit={(e) => { e.preventDefault(); onSet(password); setPassword(""); setOpen(false); }}>
      <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} aria-label="new password" autoFocus required />
      <button type="submit" disabled={!password}>Save</button>
      <button type="button" onClick={() => setOpen(false)}>Cancel</button>
    </form>
  );
}

function Teams() {
  const list = useAsync(() => access.teams(), []);
  const users = useAsync(() => access.users(), []);
  const action = useAction(list.reload);
  const [name, setName] = useState("");
  const create = () =>
    action.run("Create team", async () => {
      const made = await access.createTeam(name.trim());
      setName("");
      return `Team ${made.name} created`;
    });
  return (
    <>
      <form className="row action-card" data-testid="team-form" onSubmit={(e) => { e.preventDefault(); void create(); }}>
        <strong>New team</strong>
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="name" aria-label="team name" required maxLength={250} />
        <button className="primary" type="submit" disabled={action.busy || !name.trim()}>Create</button>
      </form>
      <Outcome action={action} testId="teams" />
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      <table className="list" data-testid="teams">
        <thead><tr><th>team</th><th>members</th><th /></tr></thead>
        <tbody>
          {(list.data?.teams ?? []).map((t) => (
            <TeamRow key={t.name} team={t} users={(users.data?.users ?? []).map((u) => u.name)} action={action} />
          ))}
        </tbody>
      </table>
      {list.data?.teams.length === 0 && <p className="muted">No teams yet.</p>}
    </>
  );
}

function TeamRow({ team, users, action }: { team: Team; users: string[]; action: ReturnType<typeof useAction> }) {
  const others = users.filter((u) => !team.members.includes(u));
  const [adding, setAdding] = useState("");
  const pick = adding || others[0] || "";
  return (
    <tr data-team={team.name}>
      <td>{team.name}</td>
      <td>
        {team.members.map((m) => (
          <span key={m} className="badge member">
            {m}{" "}
            <button className="link" aria-label={`remove ${m} from ${team.name}`} disabled={action.busy} onClick={() => void action.run("Remove member", async () => {
              await access.removeMember(team.name, m);
              return `${m} left ${team.name}`;
            })}>×</button>
          </span>
        ))}
        {others.length > 0 && (
          <span className="add-member">
            <select value={pick} onChange={(e) => setAdding(e.target.value)} aria-label={`add to ${team.name}`}>
              {others.map((u) => <option key={u} value={u}>{u}</option>)}
            </select>
            <button disabled={action.busy || !pick} onClick={() => void action.run("Add member", async () => {
              await access.addMember(team.name, pick);
              setAdding("");
              return `${pick} joined ${team.name}`;
            })}>Add</button>
          </span>
        )}
      </td>
      <td>
        <ConfirmButton label="Delete" question={`Delete team ${team.name}?`} disabled={action.busy} onConfirm={() => void action.run("Delete team", async () => {
          await access.deleteTeam(team.name);
          return `Team ${team.name} deleted`;
        })} />
      </td>
    </tr>
  );
}

function Grants() {
  const [kind, setKind] = useQueryParam("kind", "");
  const [resource, setResource] = useQueryParam("resource", "");
  const [principal, setPrincipal] = useQueryParam("principal", "");
  const list = useAsync(() => access.grants({ kind, resource, principal }), [kind, resource, principal]);
  const action = useAction(list.reload);
  const users = useAsync(() => access.users(), []);
  const teams = useAsync(() => access.teams(), []);
  const tokens = useAsync(() => access.tokens(true), []);
  const labels = useLabels();
  const principals: Record<PrincipalKind, [string, string][]> = {
    user: (users.data?.users ?? []).map((u) => [u.name, u.name]),
    team: (teams.data?.teams ?? []).map((t) => [t.name, t.name]),
    token: (tokens.data?.tokens ?? []).filter((t) => !t.revoked_at).map((t) => [t.id, `${t.name} (${t.owner ?? t.kind})`]),
  };
  return (
    <>
      <GrantForm action={action} principals={principals} />
      <Outcome action={action} testId="grants" />
      <div className="row filters" data-testid="grant-filters">
        <strong>Show</strong>
        <select value={kind} onChange={(e) => setKind(e.target.value)} aria-label="filter by kind">
          <option value="">every kind</option>
          {RESOURCE_KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
        </select>
        <input value={resource} onChange={(e) => setResource(e.target.value)} placeholder="object (id or name)" aria-label="filter by object" />
        <select value={principal} onChange={(e) => setPrincipal(e.target.value)} aria-label="filter by principal">
          <option value="">everyone</option>
          {principal && !Object.entries(principals).some(([k, list]) => list.some(([id]) => `${k}:${id}` === principal)) && <option value={principal}>{principal}</option>}
          {(Object.entries(principals) as [PrincipalKind, [string, string][]][]).map(([k, list]) => (
            <optgroup key={k} label={`${k}s`}>
              {list.map(([id, label]) => <option key={id} value={`${k}:${id}`}>{label}</option>)}
            </optgroup>
          ))}
        </select>
      </div>
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      {list.data && (
        <GrantsTable
          grants={list.data.grants}
          empty="No grants match."
          labels={labels}
          busy={action.busy}
          onDelete={(g) => void action.run("Delete grant", async () => {
            await access.deleteGrant(g.id);
            return `Grant removed: ${g.principal_kind} ${principalName(g)} is no longer ${g.role} on ${g.resource_kind} ${g.resource}`;
          })}
        />
      )}
    </>
  );
}
