/** Keyboard shortcuts. */
const KEYS: [string, string][] = [
  ["/", "focus the run filter (Tab completes, Enter searches)"],
  ["j / k or ↓ / ↑", "move through the runs table"],
  ["x or space", "select the run under the cursor"],
  ["Enter or o", "open that run (or fold a group)"],
  ["c", "compare the selected runs"],
  ["g e / g d / g m / g o", "go to experiments, datasets, models, monitoring"],
  ["t", "switch light and dark theme"],
  ["?", "this page"],
  ["Tab (first)", "“Skip to content” jumps past the top bar"],
  ["Escape", "close a dialog or cancel an edit"],
];

export function HelpPage() {
  return (
    <section className="main">
      <h1>Keyboard</h1>
      <table className="kv">
        <tbody>{KEYS.map(([k, what]) => <tr key={k}><td><kbd>{k}</kbd></td><td>{what}</td></tr>)}</tbody>
      </table>
      <p className="muted">Shortcuts leave keys alone while a link, button, field or menu has the focus, and while Ctrl, Alt or ⌘ is held.</p>
      <p className="muted">Every view keeps its state in the address: copy the URL to share exactly what you see.</p>
    </section>
  );
}
