/** Service health: latency percentiles, throughput, error rate and availability per window;
 * uptime and the error budget left against the objective as headline numbers. */
import { useMemo } from "react";
import { figureText, finite, hasPoints, healthSeries, type Health, type HealthPoint } from "../../lib/monitoring";
import { Headline } from "./QualityPanel";
import { TimeChart } from "./TimeChart";

const CHARTS: { title: string; figures: (keyof HealthPoint)[]; unit: "ms" | "rps" | "percent" }[] = [
  { title: "latency (ms)", figures: ["latency_p50_ms", "latency_p90_ms", "latency_p99_ms"], unit: "ms" },
  { title: "throughput (req/s)", figures: ["throughput_rps"], unit: "rps" },
  { title: "error rate", figures: ["error_rate"], unit: "percent" },
  { title: "availability", figures: ["availability"], unit: "percent" },
];

export function HealthPanel({ health, span }: { health: Health; span?: { since: number; until: number } }) {
  const points = useMemo(() => (Array.isArray(health.points) ? health.points : []), [health]);
  const charts = useMemo(() => CHARTS.map((c) => ({ ...c, data: healthSeries(points, c.figures) })), [points]);
  const a = health.availability ?? { objective: null, uptime: null, probes: 0, budget_remaining: null };
  const budget = finite(a.budget_remaining);
  const requests = points.reduce((n, p) => n + (finite(p.requests) ?? 0), 0);
  return (
    <div data-testid="health">
      <div className="mon-headline">
        <Headline label="uptime" value={figureText(a.uptime, "percent")} testId="uptime" title={`from ${finite(a.probes) ?? 0} probes`} />
        <Headline label={`error budget left (objective ${figureText(a.objective, "percent")})`} value={figureText(budget, "percent")} testId="budget" />
        <Headline label="requests" value={points.length ? requests.toLocaleString("en-US") : "—"} testId="requests" />
      </div>
      {budget !== null && budget < 0 && <p className="error" role="alert">The error budget is spent: availability is below the objective.</p>}
      <div className="mon-charts">
        {charts.map((c) =>
          hasPoints(c.data) ? (
            <TimeChart span={span} key={c.title} title={c.title} data={c.data} unit={c.unit} testId={`health-${c.figures[0]}`} />
          ) : (
            <div key={c.title} className="chart-placeholder mon-placeholder" data-testid={`health-${c.figures[0]}`}>{c.title}: —</div>
          ),
        )}
      </div>
    </div>
  );
}
