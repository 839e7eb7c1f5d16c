/** The signed-in user's account: who they are, their roles, their password and their API tokens. */
import { useState } from "react";
import { Outcome, useAction } from "../components/Action";
import { GrantsTable, useLabels } from "../components/Grants";
import { Tokens } from "../components/Tokens";
import { access } from "../lib/access";
import { time } from "../lib/format";
import { loadSession, useSession } from "../lib/session";
import { useAsync } from "../lib/useAsync";

export function AccountPage() {
  const state = useSession();
  const session = state.status === "ready" ? state.session : null;
  if (session && !session.auth) {
    return (
      <section className="main">
        <h1>Account</h1>
        <p className="muted">Access control is off on this server: there are no accounts and everyone may do everything (start it with <code>--auth</code>).</p>
      </section>
    );
  }
  return (
    <section className="main account">
      <Profile />
      <h2>Password</h2>
      {session?.user?.sso ? <p className="muted">You sign in with single sign-on: your provider keeps your password.</p> : <ChangePassword />}
      <h2>API tokens</h2>
      <p className="muted small">For the SDK, the CLI and the mlflow client. A token can do at most what its scope allows, and never more than you.</p>
      <Tokens />
    </section>
  );
}

function Profile() {
  const me = useAsync(() => access.me(), []);
  const labels = useLabels();
  if (me.error) return <p className="error" role="alert">{me.error.message}</p>;
  if (!me.data) return <p className="muted">Loading…</p>;
  const { user, roles } = me.data;
  return (
    <>
      <header className="page-head"><h1>{user.name}</h1>{user.is_admin && <span className="badge">admin</span>}</header>
      <dl className="facts" data-testid="profile">
        <dt>email</dt><dd>{user.email ?? <span className="muted">—</span>}</dd>
        <dt>teams</dt><dd>{user.teams.length ? user.teams.join(", ") : <span className="muted">none</span>}</dd>
        <dt>account</dt><dd>{user.sso ? "single sign-on" : "local"} · since {time(user.created_at)}</dd>
      </dl>
      <h2>Your roles</h2>
      <GrantsTable grants={roles} labels={labels} empty={user.is_admin ? "Administrators may do everything." : "No roles yet: ask an administrator or an object's maintainer."} />
    </>
  );
}

function ChangePassword() {
  const action = useAction();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const mismatch = again !== "" && next !== again;
  const change = () =>
    action.run("Password change", async () => {
      await access.changePassword(current, next);
      await loadSession(); // the server ended every session and gave this one a new cookie and CSRF token
      setCurrent("");
      setNext("");
      setAgain("");
      return "Password changed";
    });
  return (
    <form className="action-card narrow" data-testid="password" onSubmit={(e) => { e.preventDefault(); void change(); }}>
      <label>current password <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required /></label>
      <label>new password <input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required /></label>
      <label>new password again <input type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required aria-invalid={mismatch} /></label>
      {mismatch && <p className="error small">The new passwords differ.</p>}
      <div className="row"><button className="primary" type="submit" disabled={action.busy || !current || !next || next !== again}>Change password</button></div>
      <Outcome action={action} testId="password" />
    </form>
  );
}
