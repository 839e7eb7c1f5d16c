/** The shell: the session, top navigation, theme switch, and the page the URL names. */
import { useEffect } from "react";
import { Link } from "./components/Link";
import { UserMenu } from "./components/UserMenu";
import { safeNext } from "./lib/access";
import { match, navigate, useLocation } from "./lib/route";
import { here, loadSession, loginHref, useSession } from "./lib/session";
import { useTheme } from "./lib/theme";
import { AccountPage } from "./pages/Account";
import { AdminPage } from "./pages/Admin";
import { AuditPage } from "./pages/Audit";
import { LoginPage } from "./pages/Login";
import { ComparePage } from "./pages/Compare";
import { DatasetPage, DatasetsPage } from "./pages/Datasets";
import { DeploymentPage, DeploymentsPage } from "./pages/Deployments";
import { HelpPage } from "./pages/Help";
import { ModelPage, ModelVersionPage, ModelsPage } from "./pages/Models";
import { MonitoringIndexPage, MonitoringPage } from "./pages/Monitoring";
import { RunPage } from "./pages/Run";
import { RunsPage } from "./pages/Runs";
import { ExperimentTracesPage, TracePage } from "./pages/Traces";

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === "/" || path === "/experiments") return <RunsPage experimentId={null} />;
  if ((m = match("/experiments/:id", path))) return <RunsPage experimentId={Number(m.id)} />;
  if ((m = match("/experiments/:id/traces", path))) return <ExperimentTracesPage key={m.id} experimentId={Number(m.id)} />;
  if ((m = match("/runs/:id", path))) return <RunPage key={m.id} runId={m.id} />;
  if ((m = match("/traces/:id", path))) return <TracePage key={m.id} traceId={m.id} />;
  if (path === "/compare") return <ComparePage />;
  if (path === "/datasets") return <DatasetsPage />;
  if ((m = match("/datasets/:name", path))) return <DatasetPage key={m.name} name={m.name} />;
  if (path === "/models") return <ModelsPage />;
  if ((m = match("/models/:name", path))) return <ModelPage key={m.name} name={m.name} />;
  if ((m = match("/models/:name/versions/:version", path))) return <ModelVersionPage name={m.name} version={Number(m.version)} />;
  if (path === "/deployments") return <DeploymentsPage />;
  if ((m = match("/deployments/:name", path))) return <DeploymentPage key={m.name} name={m.name} />;
  if (path === "/monitoring") return <MonitoringIndexPage />;
  if ((m = match("/monitoring/:name", path))) return <MonitoringPage key={m.name} name={m.name} />;
  if (path === "/help") return <HelpPage />;
  if (path === "/account") return <AccountPage />;
  if (path === "/admin") return <AdminPage />;
  if (path === "/audit") return <AuditPage />;
  return <section className="main"><h1>Not found</h1><p>No page at <code>{path}</code>. <Link to="/">Go to the runs.</Link></p></section>;
}

const NAV: [string, string, string][] = [
  ["/experiments", "Experiments", "e"],
  ["/datasets", "Datasets", "d"],
  ["/models", "Models", "m"],
  ["/deployments", "Deployments", ""], // no `g` key yet
  ["/monitoring", "Monitoring", "o"],
];

export function App() {
  const { path, query } = useLocation();
  const [theme, toggle] = useTheme();
  const state = useSession();
  useEffect(() => {
    loadSession().catch(() => {}); // shown below
  }, []);
  const session = state.status === "ready" ? state.session : null;
  const signedOut = session !== null && session.auth && session.user === null;
  useEffect(() => {
    if (signedOut && path !== "/login") navigate(loginHref(here()), true);
    if (session && !signedOut && path === "/login") navigate(safeNext(query.get("next")), true);
  }, [session, signedOut, path, query]);
  useEffect(() => {
    let pending = false;
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
      if (pending) {
        pending = false;
        const to = NAV.find(([, , key]) => key === e.key);
        if (to) navigate(to[0]);
      } else if (e.key === "g") {
        pending = true;
        setTimeout(() => (pending = false), 1000);
      } else if (e.key === "?") {
        navigate("/help");
      } else if (e.key === "t") {
        toggle();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [toggle]);
  const section = path === "/" || path.startsWith("/experiments") || path.startsWith("/runs") || path.startsWith("/traces") || path === "/compare" ? "/experiments" : "/" + path.split("/")[1];
  return (
    <>
      <header className="topbar">
        <Link to="/" className="brand">modelyard</Link>
        {session && !signedOut && (
          <nav>
            {NAV.map(([to, label]) => (
              <Link key={to} to={to} className={section === to ? "active" : ""}>{label}</Link>
            ))}
          </nav>
        )}
        <span className="spacer" />
        <Link to="/help">Keys</Link>
        <a href="/docs" target="_blank" rel="noreferrer">API</a>
        <button className="theme" onClick={toggle} aria-label="switch theme" data-testid="theme">{theme === "dark" ? "☀ light" : "☾ dark"}</button>
        {session?.user && <UserMenu user={session.user} />}
      </header>
      <main>
        {state.status === "loading" && <section className="main"><p className="muted">Loading…</p></section>}
        {state.status === "error" && (
          <section className="main">
            <p className="error" role="alert">Could not reach the server: {state.error.message}</p>
            <button onClick={() => loadSession().catch(() => {})}>Try again</button>
          </section>
        )}
        {session && (signedOut ? <LoginPage sso={session.sso} /> : <Page path={path} />)}
      </main>
    </>
  );
}
