/** Parallel coordinates and the scatter plot with their choices in the URL (`color`, `brush`;
 * `sx`, `sy`, `sxlog`, `sylog`): the compare page's tabs and the runs page's chart panel. */
import { useMemo } from "react";
import type { Run } from "../lib/api";
import { formatBrushes, parseBrushes } from "../lib/brush";
import { cellValue, parseColumn } from "../lib/columns";
import { useQueryParam } from "../lib/route";
import { isNumeric } from "../lib/scales";
import { ParallelCoordinates, Scatter, type Axis } from "./Plots";

const axisOf = (id: string): Axis => ({ id, label: parseColumn(id).key, value: (r: Run) => cellValue(r, id) });

const metricOf = (id: string) => (r: Run) => {
  const v = cellValue(r, id);
  return typeof v === "number" ? v : NaN;
};

export function ParallelView({ runs, params, metrics }: { runs: Run[]; params: string[]; metrics: string[] }) {
  const plain = metrics.filter((m) => !m.startsWith("system/"));
  const [color, setColor] = useQueryParam("color", plain[0] ?? metrics[0] ?? "");
  const [brushText, setBrushes] = useQueryParam("brush");
  const brushes = useMemo(() => parseBrushes(brushText), [brushText]);
  const axes = [...params.map((p) => axisOf(`p:${p}`)), ...plain.map((m) => axisOf(`m:${m}`))];
  return (
    <div>
      <div className="toolbar">
        <label>colour by <select value={color} onChange={(e) => setColor(e.target.value)} data-testid="color-by">{metrics.map((m) => <option key={m}>{m}</option>)}</select></label>
      </div>
      <ParallelCoordinates
        runs={runs}
        axes={axes}
        colorBy={metricOf(`m:${color}`)}
        colorLabel={color}
        brushes={brushes}
        onBrushes={(next) => setBrushes(formatBrushes(next))}
      />
    </div>
  );
}

/** A `p:`/`m:` axis id; a bare name (links made before both axes took either) is a `kind`. */
function axisId(text: string, kind: "p" | "m"): string {
  return /^[pm]:/.test(text) || !text ? text : `${kind}:${text}`;
}

function AxisPicker({ label, value, onChange, params, metrics, testId }: {
  label: string;
  value: string;
  onChange: (id: string) => void;
  params: string[];
  metrics: string[];
  testId: string;
}) {
  return (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        <optgroup label="params">{params.map((p) => <option key={p} value={`p:${p}`}>{p}</option>)}</optgroup>
        <optgroup label="metrics">{metrics.map((m) => <option key={m} value={`m:${m}`}>{m}</option>)}</optgroup>
      </select>
    </label>
  );
}

export function ScatterView({ runs, params, metrics }: { runs: Run[]; params: string[]; metrics: string[] }) {
  const numeric = params.filter((p) => isNumeric(runs.map((r) => r.params[p] ?? null)));
  const firstX = numeric[0] ?? params[0];
  const [sx, setX] = useQueryParam("sx", firstX ? `p:${firstX}` : metrics[1] ? `m:${metrics[1]}` : "");
  const [sy, setY] = useQueryParam("sy", metrics[0] ? `m:${metrics[0]}` : "");
  const [sxlog, setXLog] = useQueryParam("sxlog", "0");
  const [sylog, setYLog] = useQueryParam("sylog", "0");
  const x = axisId(sx, "p");
  const y = axisId(sy, "m");
  const points = runs.map((r) => ({ run: r, x: cellValue(r, x), y: cellValue(r, y) }));
  const xNumeric = isNumeric(points.map((p) => p.x));
  const yNumeric = isNumeric(points.map((p) => p.y));
  const logToggle = (on: string, set: (v: string) => void, enabled: boolean, testId: string) => (
    <label title={enabled ? "" : "a log scale needs numbers"}>
      <input type="checkbox" checked={on === "1" && enabled} disabled={!enabled} onChange={(e) => set(e.target.checked ? "1" : "0")} data-testid={testId} /> log
    </label>
  );
  return (
    <div>
      <div className="toolbar">
        <AxisPicker label="x" value={x} onChange={setX} params={params} metrics={metrics} testId="scatter-x" />
        {logToggle(sxlog, setXLog, xNumeric, "scatter-x-log")}
        <AxisPicker label="y" value={y} onChange={setY} params={params} metrics={metrics} testId="scatter-y" />
        {logToggle(sylog, setYLog, yNumeric, "scatter-y-log")}
      </div>
      <Scatter
        points={points}
        xLabel={parseColumn(x).key}
        yLabel={parseColumn(y).key}
        logX={sxlog === "1" && xNumeric}
        logY={sylog === "1" && yNumeric}
      />
    </div>
  );
}
