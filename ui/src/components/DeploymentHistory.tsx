/** A deployment's history, newest first: when, who or what, the action, why, and the traffic before and after. */
import type { DeploymentEvent, Routing } from "../lib/api";
import { ago, time } from "../lib/format";
import { splitText } from "./TrafficBar";

/** The routing of an event as text: "v1 90% · v2 10%", plus shadows and warm versions. */
export function routingText(r: Partial<Routing> | null | undefined): string {
  if (!r || !Array.isArray(r.traffic)) return "";
  const parts = [splitText(r.traffic)];
  if (Array.isArray(r.shadow) && r.shadow.length) parts.push(`shadow ${r.shadow.map((v) => `v${v}`).join(", ")}`);
  if (Array.isArray(r.warm) && r.warm.length) parts.push(`warm ${r.warm.map((v) => `v${v}`).join(", ")}`);
  return parts.join("; ");
}

const MACHINES = new Set(["controller", "gate", "alias"]);

export function DeploymentHistory({ events }: { events: DeploymentEvent[] }) {
  const newest = events.slice().reverse();
  if (!newest.length) return <p className="muted">No changes yet.</p>;
  return (
    <table className="list history" data-testid="history">
      <thead><tr><th>when</th><th>who</th><th>action</th><th>reason</th><th>traffic</th></tr></thead>
      <tbody>
        {newest.map((e) => {
          const before = routingText(e.before);
          const after = routingText(e.after);
          return (
            <tr key={e.id} data-action={e.action} data-actor={e.actor}>
              <td title={time(e.at)}>{time(e.at)} <span className="muted small">{ago(e.at)}</span></td>
              <td>{MACHINES.has(e.actor) ? <span className="badge machine">{e.actor}</span> : e.actor}</td>
              <td><span className={"badge action"}>{e.action}</span></td>
              <td className="reason-cell">{e.reason}</td>
              <td className="small">{before && before !== after ? <>{before} <span className="muted">→</span> {after}</> : after}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
