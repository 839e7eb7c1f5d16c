/** A metric's direction (lower or higher is better), read from and kept in the URL (`?dir=`). */
import { directionOf, parseDirections, toggleDirection, type Direction } from "../lib/direction";
import { useQueryParam } from "../lib/route";

export function useDirection(metric: string): [Direction, () => void] {
  const [param, setParam] = useQueryParam("dir");
  return [directionOf(metric, parseDirections(param)), () => setParam(toggleDirection(param, metric))];
}

export function DirectionToggle({ metric }: { metric: string }) {
  const [dir, toggle] = useDirection(metric);
  const text = dir === "min" ? "lower is better" : "higher is better";
  return (
    <button
      type="button"
      className="dir-toggle"
      onClick={toggle}
      title={`${metric}: ${text}; click to switch`}
      aria-label={`${metric}: ${text}; switch`}
      data-testid={`dir-${metric}`}
      data-dir={dir}
    >
      {dir === "min" ? "↓" : "↑"} {text}
    </button>
  );
}
