/** The shell: the session, top navigation, theme switch, and the page the URL names. */
import { Suspense, lazy, useEffect, type ComponentType } from "react";
import { Link } from "./components/Link";
import { ExperimentGate, NotFound } from "./components/NotFound";
import { UserMenu } from "./components/UserMenu";
import { safeNext } from "./lib/access";
import { match, navigate, useLocation } from "./lib/route";
import { here, loadSession, loginHref, useSession } from "./lib/session";
import { useTheme } from "./lib/theme";
import { LoginPage } from "./pages/Login";
import { ExperimentsPage } from "./pages/Experiments";
import { RunsPage } from "./pages/Runs";
import "./shell.css";

/** A page loaded when first opened (its own file), so the experiments and runs pages
 * start without parsing the run, registry, deployments, monitoring and admin code. A file that is gone
 * (the server was upgraded under an open tab) asks for a reload instead of a blank page. */
function later<P extends object>(load: () => Promise<Record<string, unknown>>, name: string) {
  return lazy(async () => {
    try {
      return { default: (await load())[name] as ComponentType<P> };
    } catch {
      return { default: () => <section className="main"><p className="error" role="alert">This page could not be loaded: the server may have been upgraded. <button onClick={() => location.reload()}>Reload</button></p></section> };
    }
  });
}

const ComparePage = later(() => import("./pages/Compare"), "ComparePage");
const RunPage = later<{ runId: string }>(() => import("./pages/Run"), "RunPage");
const ExperimentTracesPage = later<{ experimentId: number }>(() => import("./pages/Traces"), "ExperimentTracesPage");
const TracePage = later<{ traceId: string }>(() => import("./pages/Traces"), "TracePage");
const AccountPage = later(() => import("./pages/Account"), "AccountPage");
const AdminPage = later(() => import("./pages/Admin"), "AdminPage");
const AuditPage = later(() => import("./pages/Audit"), "AuditPage");
const DatasetsPage = later(() => import("./pages/Datasets"), "DatasetsPage");
const DatasetPage = later<{ name: string }>(() => import("./pages/Datasets"), "DatasetPage");
const DeploymentsPage = later(() => import("./pages/Deployments"), "DeploymentsPage");
const DeploymentPage = later<{ name: string }>(() => import("./pages/Deployments"), "DeploymentPage");
const HelpPage = later(() => import("./pages/Help"), "HelpPage");
const ModelsPage = later(() => import("./pages/Models"), "ModelsPage");
const ModelPage = later<{ name: string }>(() => import("./pages/Models"), "ModelPage");
const ModelVersionPage = later<{ name: string; version: number }>(() => import("./pages/Models"), "ModelVersionPage");
const MonitoringIndexPage = later(() => import("./pages/Monitoring"), "MonitoringIndexPage");
const MonitoringPage = later<{ name: string }>(() => import("./pages/Monitoring"), "MonitoringPage");

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === "/" || path === "/experiments") return <ExperimentsPage />;
  if ((m = match("/experiments/:id", path))) {
    const id = /^\d+$/.test(m.id) ? Number(m.id) : -1;
    return <ExperimentGate key={m.id} id={id}><RunsPage experimentId={id} /></ExperimentGate>;
  }
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
  return <NotFound what={"page at " + path} back="/experiments" backLabel="all experiments" />;
}

const NAV: [string, string, string][] = [
  ["/experiments", "Experiments", "e"],
  ["/datasets", "Datasets", "d"],
  ["/models", "Models", "m"],
  ["/deployments", "Deployments", ""], // no `g` key yet
  ["/monitoring", "Monitoring", "o"],
];

/** Whether a focused element takes keys itself (shortcuts leave them alone). */
export function ownsKeys(target: EventTarget | null): boolean {
  if (!(target instanceof Element)) return false;
  return target.closest('a[href], button, input, textarea, select, summary, [contenteditable]:not([contenteditable="false"]), [role="textbox"], [role="combobox"], [role="button"], [role="link"], [role="menuitem"], [role="tab"], [role="option"], dialog') !== null;
}

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
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || ownsKeys(e.target)) {
        pending = false;
        return;
      }
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
      <a href="#content" className="skip-link" onClick={(e) => {
        e.preventDefault();
        document.getElementById("content")?.focus();
      }}>Skip to content</a>
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
      <main id="content" tabIndex={-1}>
        {state.status === "loading" && <section className="main"><p className="muted">Loading…</p></section>}
        {state.status === "error" && (
          <section className="main">
            <p className="error" role="alert">Could not reach the server: {state.error.message}</p>
            <button onClick={() => loadSession().catch(() => {})}>Try again</button>
          </section>
        )}
        {session && (signedOut ? <LoginPage sso={session.sso} /> : (
          <Suspense fallback={<section className="main"><p className="muted">Loading…</p></section>}>
            <Page path={path} />
          </Suspense>
        ))}
      </main>
    </>
  );
}
