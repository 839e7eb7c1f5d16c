/** Load data now and again `everyMs` after each answer (never two requests at once, however slow the server). */
import { useCallback, useEffect, useRef, useState } from "react";

export interface Poll<T> {
  data: T | undefined;
  /** the last poll's error (the previous data is kept) */
  error: Error | undefined;
  /** poll again at once (after a change the page made) */
  refresh: () => void;
}

export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, everyMs: number, deps: unknown[]): Poll<T> {
  const [state, setState] = useState<{ data?: T; error?: Error }>({});
  const [tick, setTick] = useState(0);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await loader.current(ctrl.signal);
        if (!ctrl.signal.aborted) setState({ data, error: undefined });
      } catch (err) {
        if (!ctrl.signal.aborted) setState((s) => ({ data: s.data, error: err as Error }));
      }
      if (!ctrl.signal.aborted) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      ctrl.abort();
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, everyMs, tick]);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, refresh };
}
