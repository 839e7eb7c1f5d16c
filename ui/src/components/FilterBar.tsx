/** The search box: the run search grammar with completion of fields, operators, AND/OR and
 * known values (asked of the server), and the server's error shown inline. */
import { useEffect, useMemo, useRef, useState } from "react";
import { apply, complete, valueField, type Keys } from "../lib/complete";
import { isControl } from "../lib/keys";
import { runsApi } from "../lib/runsApi";

export interface FilterError {
  message: string;
  position: number | null;
}

/** Known values of the field being typed (`params.lr = '0.`): asked of the server after a short
 * pause, the answers kept per field and prefix. */
function useValues(experimentId: number | null, field: string | null, prefix: string): string[] {
  const cache = useRef(new Map<string, string[]>());
  const [, setTick] = useState(0);
  const key = field === null ? "" : `${field}\u0000${prefix}`;
  useEffect(() => {
    if (experimentId === null || field === null || cache.current.has(key)) return;
    const ctrl = new AbortController();
    const timer = setTimeout(() => {
      runsApi
        .values(experimentId, field, prefix, 50, ctrl.signal)
        .then((answer) => { cache.current.set(key, answer.values); setTick((t) => t + 1); })
        .catch(() => { if (!ctrl.signal.aborted) cache.current.set(key, []); });
    }, 120);
    return () => { clearTimeout(timer); ctrl.abort(); };
  }, [experimentId, field, prefix, key]);
  if (field === null) return [];
  // while a longer prefix is asked, narrow the answer for a shorter one
  for (let p = prefix; ; p = p.slice(0, -1)) {
    const hit = cache.current.get(`${field}\u0000${p}`);
    if (hit) return hit.filter((v) => v.startsWith(prefix));
    if (!p) return [];
  }
}

export function FilterBar({ value, onSubmit, keys, error, experimentId = null }: {
  value: string;
  onSubmit: (text: string) => void;
  keys: Keys;
  error: FilterError | null;
  /** the experiment whose runs' values are offered */
  experimentId?: number | null;
}) {
  const [text, setText] = useState(value);
  const [cursor, setCursor] = useState(0);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey && !isControl(e.target)) {
        e.preventDefault();
        input.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const wanted = useMemo(() => valueField(text, cursor), [text, cursor]);
  const values = useValues(experimentId, wanted?.field ?? null, wanted?.prefix ?? "");
  const completion = useMemo(() => complete(text, cursor, keys, 12, values), [text, cursor, keys, values]);
  const show = open && completion.items.length > 0;

  const choose = (i: number) => {
    const next = apply(text, completion, completion.items[i]);
    setText(next.text);
    setActive(0);
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(next.cursor, next.cursor);
      setCursor(next.cursor);
    });
  };

  return (
    <div className="filter">
      <div className="filter-input">
        <input
          ref={input}
          data-testid="filter"
          value={text}
          spellCheck={false}
          aria-invalid={error ? true : undefined}
          placeholder="Filter: metrics.accuracy > 0.9 AND params.lr IN ('0.01', '0.1')   (press / to focus)"
          onChange={(e) => {
            setText(e.target.value);
            setCursor(e.target.selectionStart ?? e.target.value.length);
            setOpen(true);
            setActive(0);
          }}
          onClick={(e) => setCursor(e.currentTarget.selectionStart ?? 0)}
          onKeyUp={(e) => setCursor(e.currentTarget.selectionStart ?? 0)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onKeyDown={(e) => {
            if (show && e.key === "ArrowDown") { e.preventDefault(); setActive((a) => (a + 1) % completion.items.length); }
            else if (show && e.key === "ArrowUp") { e.preventDefault(); setActive((a) => (a - 1 + completion.items.length) % completion.items.length); }
            else if (show && e.key === "Tab") { e.preventDefault(); choose(active); }
            else if (e.key === "Enter") { setOpen(false); onSubmit(text.trim()); }
            else if (e.key === "Escape") { setOpen(false); e.currentTarget.blur(); }
          }}
        />
        {show && (
          <ul className="completions" role="listbox" data-testid="completions">
            {completion.items.map((item, i) => (
              <li
                key={item.kind + item.label}
                role="option"
                aria-selected={i === active}
                className={i === active ? "active" : ""}
                onMouseDown={(e) => { e.preventDefault(); choose(i); }}
              >
                <span className={"kind " + item.kind}>{item.kind[0]}</span> {item.label}
              </li>
            ))}
          </ul>
        )}
      </div>
      {error && (
        <div className="filter-error" data-testid="filter-error" role="alert">
          {error.position !== null && (
            <code className="caret-line">
              {text}
              {"\n"}
              {" ".repeat(Math.min(error.position, text.length))}^
            </code>
          )}
          <span>{error.message}</span>
        </div>
      )}
    </div>
  );
}
