/** The shell: top navigation, theme switch, and the page the URL names. */
import { useEffect } from "react";
import { Link } from "./components/Link";
import { match, navigate, useLocation } from "./lib/route";
import { useTheme } from "./lib/theme";
import { ComparePage } from "./pages/Compare";
import { DatasetPage, DatasetsPage } from "./pages/Datasets";
import { DeploymentPage, DeploymentsPage } from "./pages/Deployments";
import { HelpPage } from "./pages/Help";
import { ModelPage, ModelVersionPage, ModelsPage } from "./pages/Models";
import { MonitoringIndexPage, MonitoringPage } from "./pages/Monitoring";
import { RunPage } from "./pages/Run";
import { RunsPage } from "./pages/Runs";

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === "/" || path === "/experiments") return <RunsPage experimentId={null} />;
  if ((m = match("/experiments/:id", path))) return <RunsPage experimentId={Number(m.id)} />;
  if ((m = match("/runs/:id", path))) return <RunPage key={m.id} runId={m.id} />;
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
  const { path } = useLocation();
  const [theme, toggle] = useTheme();
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
  const section = path === "/" || path.startsWith("/experiments") || path.startsWith("/runs") || path === "/compare" ? "/experiments" : "/" + path.split("/")[1];
  return (
    <>
      <header className="topbar">
        <Link to="/" className="brand">modelyard</Link>
        <nav>
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} className={section === to ? "active" : ""}>{label}</Link>
          ))}
        </nav>
        <span className="spacer" />
        <Link to="/help">Keys</Link>
        <a href="/docs" target="_blank" rel="noreferrer">API</a>
        <button className="theme" onClick={toggle} aria-label="switch theme" data-testid="theme">{theme === "dark" ? "☀ light" : "☾ dark"}</button>
      </header>
      <main>
        <Page path={path} />
      </main>
    </>
  );
}
