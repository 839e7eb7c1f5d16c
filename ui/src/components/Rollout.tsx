/** The rollout in progress on a deployment: which version, by what strategy, at which step, and why. */
import type { Deployment, VersionFigures } from "../lib/api";
import { duration, time } from "../lib/format";

/** One line for lists: "v2 canary step 2/4 (25%)", "v2 blue-green: loading", or "" without a rollout. */
export function rolloutText(d: Pick<Deployment, "candidate" | "rollout">): string {
  const c = d.candidate;
  if (!c) return "";
  if (c.phase === "loading") return `v${c.version} ${c.strategy}: loading`;
  const steps = d.rollout?.steps ?? [];
  const pct = steps[c.step];
  return `v${c.version} canary step ${c.step + 1}/${steps.length}${typeof pct === "number" ? ` (${pct}%)` : ""}`;
}

export function RolloutPanel({ d, figures, now }: { d: Deployment; figures: Record<string, VersionFigures>; now: number }) {
  const c = d.candidate;
  if (!c) {
    return (
      <div className="rollout idle" data-testid="rollout">
        <div>
          <b>No rollout in progress.</b> Stable: v{d.stable}
          {d.previous !== null && <span className="muted"> · v{d.previous} kept warm for an instant rollback</span>}
        </div>
        <div className="muted small">
          Next promotion: {d.rollout.strategy}
          {d.rollout.strategy === "canary" && ` in steps of ${d.rollout.steps.join(", ")}% every ${d.rollout.interval_s} s`}
        </div>
      </div>
    );
  }
  const f = figures[String(c.version)];
  const ready = f?.instances.ready ?? 0;
  const total = ready + (f?.instances.loading ?? 0) + (f?.instances.failed ?? 0);
  const steps = d.rollout.steps;
  return (
    <div className={"rollout " + c.phase} data-testid="rollout">
      <div>
        <b>Rolling out v{c.version}</b> <span className="badge">{c.strategy}</span> <span className="badge">{c.phase}</span>{" "}
        {c.phase === "stepping" && <b data-testid="rollout-step">step {c.step + 1}/{steps.length}: {steps[c.step]}% of the traffic</b>}
      </div>
      {c.phase === "loading" ? (
        <div className="muted">
          Loading and warming up on the serving processes ({ready} of {total} ready); traffic moves once every live process reports it
          ready.
        </div>
      ) : (
        <div className="muted">
          This step began {time(c.step_started_at)} ({duration(Math.max(0, now - c.step_started_at))} ago); the next needs {d.rollout.interval_s} s and{" "}
          {d.rollout.min_requests} requests within the gates (error rate at most {d.rollout.max_error_rate_increase * 100}% over the stable's, p99 at
          most {d.rollout.max_latency_ratio}× the stable's).
        </div>
      )}
      <div className="small">
        started by <b>{c.started_by}</b>
        {c.reason && <>: <span className="reason">{c.reason}</span></>}
      </div>
    </div>
  );
}
