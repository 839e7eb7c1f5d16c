/** Images logged with `my.log_image(key, image, step)`: `images/<key>/step_<n>.png` artifacts. */
import { api, type Artifact } from "./api";

export const IMAGE_FOLDER = "images";
const STEP_FILE = /^step_(\d+)\.png$/;
const MAX_DEPTH = 4; // keys nest as folders (`val/samples`)

export function imagePath(key: string, step: number): string {
  return `${IMAGE_FOLDER}/${key}/step_${step}.png`;
}

/** The steps of the image files in one folder's listing, in order. */
export function stepsIn(entries: Artifact[]): number[] {
  return entries
    .filter((e) => !e.is_dir)
    .map((e) => STEP_FILE.exec(e.path))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** The last of the (ordered) steps at or before `chosen`; null when every step is later. */
export function stepAtOrBefore(steps: number[], chosen: number): number | null {
  let found: number | null = null;
  for (const s of steps) {
    if (s > chosen) break;
    found = s;
  }
  return found;
}

/** Every image key a run logged, with its steps in order. */
export async function imageKeys(runId: string): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const walk = async (folder: string, depth: number): Promise<void> => {
    const entries = await api.artifacts(runId, folder);
    const steps = stepsIn(entries);
    if (steps.length) out.set(folder.slice(IMAGE_FOLDER.length + 1), steps);
    if (depth < MAX_DEPTH) await Promise.all(entries.filter((e) => e.is_dir).map((e) => walk(`${folder}/${e.path}`, depth + 1)));
  };
  await walk(IMAGE_FOLDER, 0);
  return out;
}
