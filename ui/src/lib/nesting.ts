/** Nested runs: children listed under their parent, shown when the parent is expanded. */

export interface NestedRun<R> {
  run: R;
  depth: number;
  /** how many of the listed runs are its children */
  children: number;
}

interface Node {
  id: string;
  parent_id: string | null;
}

/** Runs in display order: each root (a run whose parent is not listed) then, when it is in
 * `open`, its children in their listed order, at any depth. A child whose parent is filtered out
 * is a root, so no matching run is hidden; so is a run in a loop of parents. */
export function nest<R extends Node>(runs: R[], open: Set<string>): NestedRun<R>[] {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const parentOf = (r: R) => (r.parent_id && r.parent_id !== r.id ? byId.get(r.parent_id) : undefined);
  const rooted = new Map<string, boolean>();
  const reachesRoot = (r: R): boolean => {
    const path: R[] = [];
    let cur: R | undefined = r;
    let answer = false;
    while (cur) {
      const known = rooted.get(cur.id);
      if (known !== undefined) { answer = known; break; }
      if (path.includes(cur)) break; // a loop: no root above
      path.push(cur);
      const up = parentOf(cur);
      if (!up) { answer = true; break; }
      cur = up;
    }
    for (const p of path) rooted.set(p.id, answer);
    return answer;
  };
  const childrenOf = new Map<string, R[]>();
  const roots: R[] = [];
  for (const r of runs) {
    const up = parentOf(r);
    if (up && reachesRoot(r)) {
      const list = childrenOf.get(up.id);
      if (list) list.push(r);
      else childrenOf.set(up.id, [r]);
    } else roots.push(r);
  }
  const out: NestedRun<R>[] = [];
  const seen = new Set<string>();
  const visit = (r: R, depth: number) => {
    if (seen.has(r.id)) return;
    seen.add(r.id);
    const kids = childrenOf.get(r.id) ?? [];
    out.push({ run: r, depth, children: kids.length });
    if (open.has(r.id)) for (const k of kids) visit(k, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  return out;
}
