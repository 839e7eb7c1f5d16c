/** Previews of artifacts: images, text, JSON, tables (CSV/Parquet), confusion matrices, HTML reports. */
import { useEffect, useState } from "react";
import { api, type TablePreview } from "../lib/api";
import { bytes, num } from "../lib/format";

const IMAGE = /\.(png|jpe?g|gif|webp|svg|bmp)$/i;
const TABLE = /\.(csv|tsv|parquet|pq|jsonl|ndjson|feather|arrow)$/i;
const HTML = /\.html?$/i;
const TEXT = /\.(txt|log|md|py|yaml|yml|toml|cfg|ini|sh|json|xml|r|sql|ipynb|requirements|mlmodel)$|(^|\/)(MLmodel|Dockerfile|LICENSE|README)$/i;
const MAX_TEXT = 512 * 1024;

export type PreviewKind = "image" | "table" | "html" | "json" | "text" | "none";

export function previewKind(path: string, size: number | null): PreviewKind {
  if (IMAGE.test(path)) return "image";
  if (TABLE.test(path)) return "table";
  if (HTML.test(path)) return "html";
  if (/\.json$/i.test(path)) return "json";
  if (TEXT.test(path) || (size !== null && size < 64 * 1024 && !/\.[a-z0-9]{1,8}$/i.test(path))) return "text";
  return "none";
}

/** A matrix of counts, from `{labels, matrix}` or a bare 2-D array. */
export function asMatrix(value: unknown): { labels: string[]; matrix: number[][] } | null {
  const obj = value as { labels?: unknown[]; matrix?: unknown };
  const matrix = Array.isArray(value) ? value : obj && Array.isArray(obj.matrix) ? obj.matrix : null;
  if (!matrix || matrix.length === 0 || matrix.length > 200) return null;
  if (!matrix.every((row) => Array.isArray(row) && row.length === matrix.length && row.every((v) => typeof v === "number"))) return null;
  const labels = Array.isArray(obj?.labels) && obj.labels.length === matrix.length ? obj.labels.map(String) : matrix.map((_, i) => String(i));
  return { labels, matrix: matrix as number[][] };
}

export function Heatmap({ labels, matrix }: { labels: string[]; matrix: number[][] }) {
  const max = Math.max(1, ...matrix.flat());
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((a, row, i) => a + row[i], 0);
  return (
    <figure className="heatmap" data-testid="heatmap">
      <table>
        <thead>
          <tr><th className="muted">true ↓ / predicted →</th>{labels.map((l) => <th key={l}>{l}</th>)}</tr>
        </thead>
        <tbody>
          {matrix.map((row, i) => (
            <tr key={i}>
              <th>{labels[i]}</th>
              {row.map((v, j) => {
                const a = v / max;
                return (
                  <td key={j} style={{ background: `rgba(${i === j ? "34,139,84" : "200,60,60"}, ${0.08 + 0.85 * a})`, color: a > 0.55 ? "#fff" : undefined }} title={`true ${labels[i]}, predicted ${labels[j]}: ${v}`}>
                    {v}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <figcaption className="muted">accuracy {num(total ? correct / total : 0)} over {total} examples</figcaption>
    </figure>
  );
}

export function DataTable({ preview }: { preview: TablePreview }) {
  return (
    <div className="data-table" data-testid="table-preview">
      <p className="muted">
        {preview.rows.length} rows shown{preview.total_rows !== null ? ` of ${preview.total_rows.toLocaleString("en-US")}` : preview.truncated ? " (more in the file)" : ""}
      </p>
      <div className="scroll-x">
        <table>
          <thead><tr>{preview.columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
          <tbody>
            {preview.rows.map((row, i) => (
              <tr key={i}>{row.map((v, j) => <td key={j}>{v === null ? <span className="muted">null</span> : typeof v === "number" ? num(v, 6) : String(v)}</td>)}</tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function Preview({ runId, path, size }: { runId: string; path: string; size: number | null }) {
  const url = api.artifactUrl(runId, path);
  const kind = previewKind(path, size);
  const [text, setText] = useState<string | null>(null);
  const [table, setTable] = useState<TablePreview | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    setText(null);
    setTable(null);
    setError("");
    if (kind === "table") {
      api.artifactTable(runId, path).then(setTable, (e: Error) => setError(e.message));
    } else if ((kind === "text" || kind === "json") && (size ?? 0) <= MAX_TEXT) {
      fetch(url, { credentials: "same-origin" }).then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText)))).then(setText, (e: Error) => setError(e.message));
    }
  }, [runId, path, kind, size, url]);
  const header = (
    <div className="preview-head">
      <code>{path}</code> <span className="muted">{bytes(size)}</span> <a href={url} download>download</a>
    </div>
  );
  if (error) return <div className="preview">{header}<p className="error">{error}</p></div>;
  if (kind === "image") return <div className="preview">{header}<img src={url} alt={path} data-testid="image-preview" /></div>;
  if (kind === "html") {
    return (
      <div className="preview">
        {header}
        <iframe title={path} src={url} sandbox="allow-scripts" data-testid="html-preview" />
      </div>
    );
  }
  if (kind === "table") return <div className="preview">{header}{table ? <DataTable preview={table} /> : <p className="muted">Reading…</p>}</div>;
  if ((kind === "text" || kind === "json") && (size ?? 0) > MAX_TEXT) return <div className="preview">{header}<p className="muted">Too large to show here.</p></div>;
  if (kind === "json" && text !== null) {
    let parsed: unknown = undefined;
    try { parsed = JSON.parse(text); } catch { /* shown as text */ }
    const matrix = asMatrix(parsed);
    return (
      <div className="preview">
        {header}
        {matrix && <Heatmap {...matrix} />}
        <pre data-testid="json-preview">{parsed === undefined ? text : JSON.stringify(parsed, null, 2)}</pre>
      </div>
    );
  }
  if (kind === "text" && text !== null) return <div className="preview">{header}<pre data-testid="text-preview">{text}</pre></div>;
  if (kind === "none") return <div className="preview">{header}<p className="muted">No preview for this file type.</p></div>;
  return <div className="preview">{header}<p className="muted">Loading…</p></div>;
}
