/** A deployment's traffic split as one bar of coloured shares, and a share bar for one version. */
import type { TrafficSplit } from "../lib/api";

/** A weight from the server as a width: a finite percentage clamped to 0..100, else 0. */
export function share(weight: unknown): number {
  return typeof weight === "number" && Number.isFinite(weight) ? Math.min(100, Math.max(0, weight)) : 0;
}

/** The split as text: "v1 90% · v2 10%" (versions with weight 0 left out). */
export function splitText(traffic: TrafficSplit[] | undefined): string {
  const live = (traffic ?? []).filter((s) => share(s.weight) > 0);
  return live.length ? live.map((s) => `v${s.version} ${Number(share(s.weight).toFixed(1))}%`).join(" · ") : "no traffic";
}

/** A stable colour per version number (the same version has the same colour everywhere on the page). */
export function versionColor(version: number): string {
  const hue = (Math.abs(Math.trunc(version)) * 137) % 360;
  return `hsl(${hue} 62% 48%)`;
}

export function TrafficBar({ traffic, testId }: { traffic: TrafficSplit[]; testId?: string }) {
  const text = splitText(traffic);
  return (
    <div className="traffic" data-testid={testId} title={text}>
      <div className="traffic-bar" role="img" aria-label={text}>
        {traffic.filter((s) => share(s.weight) > 0).map((s) => (
          <span key={s.version} style={{ width: `${share(s.weight)}%`, background: versionColor(s.version) }} />
        ))}
      </div>
      <span className="traffic-text">{text}</span>
    </div>
  );
}

/** One version's share of the traffic: a bar and its percentage. */
export function ShareBar({ version, weight }: { version: number; weight: number }) {
  const w = share(weight);
  return (
    <div className="share" title={`v${version}: ${w}% of the traffic`}>
      <div className="share-bar"><span style={{ width: `${w}%`, background: versionColor(version) }} /></div>
      <span className="share-text">{Number(w.toFixed(1))}%</span>
    </div>
  );
}
