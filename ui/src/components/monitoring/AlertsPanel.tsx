/** A deployment's alert rules (condition, state, silence) and the history of their firings,
 * with silence / unsilence / acknowledge / resolve (the server decides; a refusal is shown). */
import { useState } from "react";
import { ApiError } from "../../lib/api";
import { time } from "../../lib/format";
import { conditionText, figureText, kindOf, monitoringApi, ruleState, silencedNow, sortFirings, type AlertRule, type Firing } from "../../lib/monitoring";

export function AlertsPanel({ rules, firings, onChange, now }: { rules: AlertRule[]; firings: Firing[]; onChange: () => void; now: number }) {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const act = async (what: string, call: () => Promise<unknown>) => {
    setBusy(true);
    setOutcome(null);
    try {
      await call();
      setOutcome({ ok: true, text: `${what}: done` });
    } catch (e) {
      const why = e instanceof ApiError ? `${e.code}: ${e.message}` : (e as Error).message;
      setOutcome({ ok: false, text: `${what} refused: ${why}` });
    } finally {
      setBusy(false);
      onChange();
    }
  };
  const history = sortFirings(firings);
  return (
    <div data-testid="alerts">
      {rules.length === 0 ? (
        <p className="muted" data-testid="no-rules">No alert rule watches this deployment: <code>modelyard monitor alerts create</code> or POST /api/v1/monitoring/alerts/rules.</p>
      ) : (
        <table className="list" data-testid="alert-rules">
          <thead><tr><th>rule</th><th>condition</th><th>state</th><th>last value</th><th>silenced until</th><th /></tr></thead>
          <tbody>
            {rules.map((r) => {
              const state = ruleState(r);
              const silenced = silencedNow(r, now);
              return (
                <tr key={r.id} data-rule={r.name} data-state={state}>
                  <td>{r.name}{r.enabled === false && <span className="badge">disabled</span>}</td>
                  <td><code>{conditionText(r)}</code></td>
                  <td><span className={"badge alert-state " + state} data-testid="rule-state">{state}</span></td>
                  <td className="num">{figureText(r.last_value, kindOf(r.metric))}</td>
                  <td>{silenced ? time(r.silenced_until) : <span className="muted">—</span>}</td>
                  <td className="actions">
                    {silenced ? (
                      <button disabled={busy} onClick={() => act(`Unsilence ${r.name}`, () => monitoringApi.unsilence(r.id))}>Unsilence</button>
                    ) : (
                      <button disabled={busy} onClick={() => act(`Silence ${r.name} for 1 h`, () => monitoringApi.silence(r.id, 60))}>Silence 1h</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {outcome && (outcome.ok ? <p className="ok" role="status" data-testid="alert-done">{outcome.text}</p> : <p className="error" role="alert" data-testid="alert-error">{outcome.text}</p>)}
      <h3>Firings</h3>
      {history.length === 0 ? (
        <p className="muted" data-testid="no-firings">No rule of this deployment has fired.</p>
      ) : (
        <table className="list" data-testid="firings">
          <thead><tr><th>rule</th><th>started</th><th>ended</th><th>value</th><th>status</th><th>acknowledged by</th><th /></tr></thead>
          <tbody>
            {history.map((f) => {
              const metric = rules.find((r) => r.id === f.rule_id)?.metric ?? "";
              return (
                <tr key={f.id} data-firing={f.id} data-status={f.status}>
                  <td>{f.rule_name}</td>
                  <td>{time(f.started_at)}</td>
                  <td>{f.ended_at ? time(f.ended_at) : <span className="muted">—</span>}</td>
                  <td className="num">{figureText(f.value, kindOf(metric))}</td>
                  <td><span className={"badge alert-state " + f.status}>{f.status}</span></td>
                  <td>{f.acknowledged_by ?? <span className="muted">—</span>}</td>
                  <td className="actions">
                    {f.status === "firing" && <button disabled={busy} onClick={() => act("Acknowledge", () => monitoringApi.acknowledge(f.id))}>Acknowledge</button>}
                    {f.status !== "resolved" && <button disabled={busy} onClick={() => act("Resolve", () => monitoringApi.resolve(f.id))}>Resolve</button>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
