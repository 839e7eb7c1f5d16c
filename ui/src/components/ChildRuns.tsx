/** The runs started under a parent run: name, status, key metrics, each a link to its page. */
import { api, type Run } from "../lib/api";
import { num, time, toNumber } from "../lib/format";
import { href } from "../lib/route";
import { keyMetrics, runEdits } from "../lib/runEdits";
import { useAsync } from "../lib/useAsync";
import { Link } from "./Link";

export function ChildRuns({ parent }: { parent: Run }) {
  const found = useAsync((signal) => runEdits.children(parent.id, signal), [parent.id, parent.status]);
  if (found.error) return <p className="error" role="alert">Child runs could not be read: {found.error.message}</p>;
  const runs = found.data?.runs ?? [];
  if (runs.length === 0) return null;
  const keys = keyMetrics(runs);
  return (
    <section className="child-runs" data-testid="child-runs">
      <h2>
        Child runs <span className="muted">({runs.length})</span>{" "}
        <Link to={href("/compare", { runs: runs.slice(0, 50).map((r) => r.id).join(",") })} className="small">compare them</Link>
      </h2>
      <div className="scroll-x">
        <table className="list">
          <thead>
            <tr><th>name</th><th>status</th>{keys.map((k) => <th key={k} className="m">{k}</th>)}<th>started</th></tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} className={r.lifecycle === "deleted" ? "stale" : ""}>
                <td className="run-cell"><Link to={`/runs/${r.id}`}>{r.name || r.id.slice(0, 12)}</Link>{r.lifecycle === "deleted" && <span className="muted"> (deleted)</span>}</td>
                <td><span className={"status " + r.status.toLowerCase()}>{r.status.toLowerCase()}</span></td>
                {keys.map((k) => <td key={k} className="m">{r.metrics[k] ? num(toNumber(r.metrics[k].last)) : ""}</td>)}
                <td>{time(r.start_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The parent's name, linked (its id while it loads or when it cannot be read). */
export function ParentLink({ parentId }: { parentId: string }) {
  const parent = useAsync(() => api.run(parentId), [parentId]);
  return <Link to={`/runs/${parentId}`}>{parent.data?.name || parentId.slice(0, 12)}</Link>;
}
