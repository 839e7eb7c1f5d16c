/** Traces (MLflow 3): an experiment's or a run's list, and one trace as a span waterfall. */
import { useState } from "react";
import { Link } from "../components/Link";
import { duration, time } from "../lib/format";
import { useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { bar, pretty, spanMs, spanRows, timeline, tracesApi, type Span, type TraceInfo } from "../lib/traces";

function State({ state }: { state: string }) {
  const cls = state === "OK" ? "finished" : state === "ERROR" ? "failed" : "running";
  return <span className={"status " + cls} data-testid="trace-state">{state.toLowerCase()}</span>;
}

/** A table of traces, newest first. */
export function TraceList({ traces, showRun = true }: { traces: TraceInfo[]; showRun?: boolean }) {
  if (!traces.length) return <p className="muted">No traces.</p>;
  return (
    <table className="list" data-testid="trace-list">
      <thead>
        <tr><th>trace</th><th>state</th><th>started</th><th>duration</th><th>request</th><th>response</th>{showRun && <th>run</th>}</tr>
      </thead>
      <tbody>
        {traces.map((t) => (
          <tr key={t.trace_id}>
            <td><Link to={`/traces/${encodeURIComponent(t.trace_id)}`}>{t.name ?? t.trace_id}</Link></td>
            <td><State state={t.state} /></td>
            <td>{time(t.request_time)}</td>
            <td>{duration(t.execution_duration)}</td>
            <td className="preview" title={t.request_preview}>{t.request_preview.slice(0, 120)}</td>
            <td className="preview" title={t.response_preview}>{t.response_preview.slice(0, 120)}</td>
            {showRun && <td>{t.run_id ? <Link to={`/runs/${t.run_id}`}>{t.run_id.slice(0, 8)}</Link> : ""}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The traces made inside a run or linked to it (the run page's tab). */
export function RunTraces({ runId }: { runId: string }) {
  const page = useAsync(() => tracesApi.ofRun(runId), [runId]);
  if (page.error) return <p className="error" role="alert">{page.error.message}</p>;
  if (!page.data) return <p className="muted">Loading…</p>;
  return <TraceList traces={page.data.traces} showRun={false} />;
}

export function ExperimentTracesPage({ experimentId }: { experimentId: number }) {
  const [filter, setFilter] = useQueryParam("filter");
  const [token, setToken] = useQueryParam("page");
  const [draft, setDraft] = useState(filter);
  const page = useAsync(() => tracesApi.ofExperiment(experimentId, filter, token || null), [experimentId, filter, token]);
  return (
    <section className="main">
      <header className="page-head">
        <h1>Traces</h1>
        <Link to={`/experiments/${experimentId}`}>experiment {experimentId}</Link>
      </header>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setToken("");
          setFilter(draft, true);
        }}
      >
        <input
          aria-label="trace filter"
          placeholder="status = 'ERROR' AND tags.team = 'search'"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          style={{ flex: 1 }}
        />
        <button type="submit">Filter</button>
      </form>
      {page.error && <p className="error" role="alert">{page.error.message}</p>}
      {page.data && <TraceList traces={page.data.traces} />}
      {page.data?.next_page_token && <button onClick={() => setToken(page.data?.next_page_token ?? "", true)}>Older traces</button>}
    </section>
  );
}

function Value({ label, value }: { label: string; value: unknown }) {
  if (value === null || value === undefined) return null;
  return (
    <>
      <h3>{label}</h3>
      <pre className="json" data-testid={`span-${label}`}>{pretty(value)}</pre>
    </>
  );
}

function SpanDetail({ span }: { span: Span }) {
  return (
    <div className="span-detail" data-testid="span-detail">
      <h2>{span.name}</h2>
      <p>
        <span className="muted">{span.span_type}</span> · <State state={span.status} /> · {spanMs(span)}
        {span.status_message && <span className="error"> · {span.status_message}</span>}
      </p>
      <Value label="inputs" value={span.inputs} />
      <Value label="outputs" value={span.outputs} />
      {Object.keys(span.attributes).length > 0 && <Value label="attributes" value={span.attributes} />}
      {span.events.length > 0 && <Value label="events" value={span.events} />}
    </div>
  );
}

export function TracePage({ traceId }: { traceId: string }) {
  const trace = useAsync(() => tracesApi.get(traceId), [traceId]);
  const [selected, setSelected] = useQueryParam("span");
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  if (trace.error) return <section className="main"><p className="error" role="alert">{trace.error.message}</p></section>;
  if (!trace.data) return <section className="main"><p className="muted">Loading…</p></section>;
  const { info, spans, problem } = trace.data;
  const rows = spanRows(spans, collapsed);
  const [start, end] = timeline(spans);
  const chosen = spans.find((s) => s.span_id === selected) ?? rows[0]?.span;
  const toggle = (id: string) => {
    const next = new Set(collapsed);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setCollapsed(next);
  };
  return (
    <section className="main trace-page">
      <header className="page-head">
        <h1>{info.name ?? info.trace_id}</h1>
        <State state={info.state} />
        <Link to={`/experiments/${info.experiment_id}/traces`}>experiment {info.experiment_id}</Link>
        {info.run_ids.map((r) => <Link key={r} to={`/runs/${r}`}>run {r.slice(0, 8)}</Link>)}
      </header>
      <p className="muted">
        <code>{info.trace_id}</code> · {time(info.request_time)} · {duration(info.execution_duration)} · {spans.length} spans
      </p>
      {problem && <p className="error" role="alert" data-testid="trace-problem">{problem}</p>}
      <div style={{ display: "grid", gridTemplateColumns: "minmax(0, 3fr) minmax(0, 2fr)", gap: "1rem" }}>
        <table className="list waterfall" data-testid="waterfall">
          <tbody>
            {rows.map(({ span, depth, children }) => {
              const { left, width } = bar(span, start, end);
              const open = !collapsed.has(span.span_id);
              return (
                <tr key={span.span_id} data-testid="span-row" className={chosen?.span_id === span.span_id ? "selected" : ""} aria-selected={chosen?.span_id === span.span_id}>
                  <td style={{ paddingLeft: `${0.5 + depth * 1.2}rem`, whiteSpace: "nowrap" }}>
                    {children > 0 ? (
                      <button className="link" aria-label={`${open ? "collapse" : "expand"} ${span.name}`} aria-expanded={open} onClick={() => toggle(span.span_id)}>
                        {open ? "▾" : "▸"}
                      </button>
                    ) : (
                      <span style={{ display: "inline-block", width: "1.2em" }} />
                    )}{" "}
                    <button className="link" onClick={() => setSelected(span.span_id)}>{span.name}</button>{" "}
                    <span className="muted">{span.span_type}</span>
                  </td>
                  <td style={{ width: "45%" }}>
                    <div style={{ position: "relative", height: "0.9rem", background: "var(--bg-3)" }} title={`${spanMs(span)} from +${((span.start_ns - start) / 1e6).toFixed(1)} ms`}>
                      <div
                        data-testid="span-bar"
                        style={{ position: "absolute", left: `${left}%`, width: `${width}%`, top: 0, bottom: 0, background: span.status === "ERROR" ? "var(--bad)" : "var(--accent)" }}
                      />
                    </div>
                  </td>
                  <td style={{ whiteSpace: "nowrap" }}>{spanMs(span)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {chosen && <SpanDetail span={chosen} />}
      </div>
    </section>
  );
}
