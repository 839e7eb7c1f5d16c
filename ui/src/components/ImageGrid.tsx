/** One image key across runs, side by side, with a step slider: each run shows its image at the
 * chosen step, or the last one before it. The key and step live in the URL (`img`, `step`). */
import { useMemo } from "react";
import { api, type Run } from "../lib/api";
import { imageKeys, imagePath, stepAtOrBefore } from "../lib/images";
import { useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { Link } from "./Link";
import "./plots.css";

export const MAX_IMAGE_RUNS = 24;

export function ImageGrid({ runs }: { runs: Run[] }) {
  const shown = useMemo(() => runs.slice(0, MAX_IMAGE_RUNS), [runs]);
  const ids = shown.map((r) => r.id).join(",");
  const index = useAsync(() => Promise.all(shown.map((r) => imageKeys(r.id))), [ids]);
  const perRun = index.data && index.data.length === shown.length ? index.data : null;
  const keys = useMemo(() => Array.from(new Set((perRun ?? []).flatMap((m) => Array.from(m.keys())))).sort(), [perRun]);
  const [keyParam, setKey] = useQueryParam("img");
  const key = keys.includes(keyParam) ? keyParam : keys[0] ?? "";
  const steps = useMemo(() => Array.from(new Set((perRun ?? []).flatMap((m) => m.get(key) ?? []))).sort((a, b) => a - b), [perRun, key]);
  const [stepParam, setStep] = useQueryParam("step");
  const chosen = stepParam !== "" && Number.isFinite(Number(stepParam)) ? Number(stepParam) : steps[steps.length - 1] ?? 0;
  const at = Math.max(0, steps.indexOf(stepAtOrBefore(steps, chosen) ?? steps[0]));

  if (index.error) return <p className="error">{index.error.message}</p>;
  if (!perRun) return <p className="muted">Looking for images…</p>;
  if (!keys.length) {
    return <p className="muted" data-testid="image-grid-empty">These runs logged no images (<code>my.log_image(key, image, step)</code> stores them).</p>;
  }
  return (
    <div data-testid="image-grid">
      <div className="toolbar">
        <label>
          image{" "}
          <select value={key} onChange={(e) => { setKey(e.target.value); setStep(""); }} data-testid="image-key">
            {keys.map((k) => <option key={k}>{k}</option>)}
          </select>
        </label>
        <label className="step-slider">
          step{" "}
          <input
            type="range"
            min={0}
            max={Math.max(0, steps.length - 1)}
            value={at}
            onChange={(e) => setStep(String(steps[Number(e.target.value)]))}
            data-testid="image-step"
            aria-valuetext={`step ${chosen}`}
          />
          <span data-testid="image-step-value">{chosen.toLocaleString("en-US")}</span>
        </label>
        {runs.length > shown.length && <span className="muted">the first {shown.length} of {runs.length} runs</span>}
      </div>
      <div className="image-grid">
        {shown.map((run, i) => {
          const step = stepAtOrBefore(perRun[i].get(key) ?? [], chosen);
          const name = run.name || run.id.slice(0, 8);
          return (
            <figure key={run.id} className="image-cell" data-testid="image-cell" data-run={run.id} data-step={step ?? ""}>
              <Link to={`/runs/${run.id}`} className="run-name">{name}</Link>
              {step === null ? (
                <div className="missing muted small">no image at or before step {chosen.toLocaleString("en-US")}</div>
              ) : (
                <img
                  src={api.artifactUrl(run.id, imagePath(key, step))}
                  alt={`${key} of ${name} at step ${step}`}
                  onLoad={(e) => e.currentTarget.classList.toggle("small", e.currentTarget.naturalWidth < e.currentTarget.clientWidth)}
                />
              )}
              <figcaption className="muted small">
                {step === null ? "" : step === chosen ? `step ${step}` : `step ${step} (the last at or before ${chosen})`}
              </figcaption>
            </figure>
          );
        })}
      </div>
    </div>
  );
}
