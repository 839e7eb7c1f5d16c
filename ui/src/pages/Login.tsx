/** Sign in: a user name and password, or the single sign-on provider when the server has one. */
import { useState } from "react";
import { access, safeNext } from "../lib/access";
import { useQueryParam } from "../lib/route";
import { login } from "../lib/session";

export function LoginPage({ sso }: { sso: boolean }) {
  const [next] = useQueryParam("next", "/");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError("");
    try {
      await login(name.trim(), password, next);
    } catch (err) {
      setError((err as Error).message || "Could not sign in");
      setPassword("");
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="main login">
      <form
        className="login-card"
        data-testid="login"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <h1>Sign in to modelyard</h1>
        <label>
          User name
          <input name="username" autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} autoFocus required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && <p className="error" role="alert" data-testid="login-error">{error}</p>}
        <button className="primary" type="submit" disabled={busy || !name.trim() || !password}>Sign in</button>
        {sso && (
          <>
            <div className="or muted">or</div>
            <a className="button" href={access.ssoUrl(safeNext(next))} data-testid="sso">Sign in with single sign-on</a>
          </>
        )}
        <p className="muted small">Scripts and the mlflow client use an API token instead (Account → Tokens).</p>
      </form>
    </section>
  );
}
