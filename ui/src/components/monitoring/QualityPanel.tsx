/** Quality over time: one chart per figure with realized (solid) and estimated (dashed) lines
 * per version, the labelled counts, and the latest values as headline numbers. */
import { useMemo } from "react";
import { estimatedOnly, figureText, hasPoints, labelledCounts, latest, qualityFigures, qualitySeries, type Quality } from "../../lib/monitoring";
import { TimeChart } from "./TimeChart";

export function QualityPanel({ quality, version, span }: { quality: Quality; version: number | null; span?: { since: number; until: number } }) {
  const points = useMemo(() => (Array.isArray(quality.points) ? quality.points : []), [quality]);
  const figures = qualityFigures(quality.task, points);
  const counts = labelledCounts(points);
  const charts = useMemo(() => figures.map((f) => ({ figure: f, data: qualitySeries(points, f) })), [points, figures.join(",")]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!points.length) return <p className="muted" data-testid="quality-empty">No predictions logged in this span.</p>;
  const main = figures[0];
  return (
    <div data-testid="quality">
      <div className="mon-headline">
        <Headline label={`${main} (realized)`} value={figureText(latest(points, main, version))} testId={`realized-${main}`} />
        {quality.task === "classification" && <Headline label={`${main} (estimated)`} value={figureText(latest(points, main, version, true))} testId={`estimated-${main}`} />}
        <Headline label="task" value={quality.task ?? "—"} />
        <div className="mon-counts" data-testid="labelled">
          {counts.map((c) => (
            <span key={String(c.version)} className="badge">
              {c.version === null ? "all" : `v${c.version}`}: {c.labelled.toLocaleString("en-US")} of {c.predictions.toLocaleString("en-US")} labelled
            </span>
          ))}
        </div>
      </div>
      {estimatedOnly(points) && (
        <p className="mon-note" data-testid="estimated-only">
          Nothing is labelled yet: estimated only (from the model's confidence). Send labels with <code>my.monitoring.log_labels</code> to see the realized figures.
        </p>
      )}
      <div className="mon-charts">
        {charts.map(({ figure, data }) =>
          hasPoints(data) ? (
            <TimeChart span={span} key={figure} title={figure} data={data} testId={`quality-${figure}`} />
          ) : (
            <div key={figure} className="chart-placeholder mon-placeholder" data-testid={`quality-${figure}`}>{figure}: —</div>
          ),
        )}
      </div>
      <p className="muted small">Solid: realized (from labels); dashed: estimated (CBPE, classifiers). A gap is a window without data.</p>
    </div>
  );
}

export function Headline({ label, value, testId, title }: { label: string; value: string; testId?: string; title?: string }) {
  return (
    <div className="mon-figure" data-testid={testId} title={title}>
      <div className="mon-figure-value">{value}</div>
      <div className="mon-figure-label">{label}</div>
    </div>
  );
}
