/** A page for something that does not exist (an unknown address, experiment, model, version,
 * dataset or deployment), with a way back; and the gate that shows it for a bad experiment id. */
import type { ReactNode } from "react";
import { ApiError } from "../lib/api";
import { experiments } from "../lib/registry";
import { useAsync } from "../lib/useAsync";
import { Link } from "./Link";

export function NotFound({ what, back, backLabel, children }: {
  /** e.g. "experiment 42", "model churn" */
  what: string;
  back: string;
  backLabel: string;
  children?: ReactNode;
}) {
  return (
    <section className="main not-found" data-testid="not-found">
      <h1>Not found</h1>
      <p>There is no {what}.{children}</p>
      <p><Link to={back}>← {backLabel}</Link></p>
    </section>
  );
}

/** Whether an error is the server's "no such object" (404). */
export function isMissing(error: Error | undefined): boolean {
  return error instanceof ApiError && error.status === 404;
}

/** An error from loading a page's object: NotFound for a 404, else the server's message. */
export function LoadError({ error, what, back, backLabel }: { error: Error; what: string; back: string; backLabel: string }) {
  if (isMissing(error)) return <NotFound what={what} back={back} backLabel={backLabel} />;
  return (
    <section className="main">
      <p className="error" role="alert">{error.message}</p>
      <p><Link to={back}>← {backLabel}</Link></p>
    </section>
  );
}

/** Render `children` (the runs page) only for an experiment that exists. */
export function ExperimentGate({ id, children }: { id: number; children: ReactNode }) {
  const valid = Number.isSafeInteger(id) && id >= 0;
  const found = useAsync((signal) => (valid ? experiments.get(id, signal) : Promise.reject(new ApiError(404, "RESOURCE_DOES_NOT_EXIST", "bad id"))), [id]);
  if (found.error) return <LoadError error={found.error} what={`experiment ${valid ? id : "with that id"}`} back="/experiments" backLabel="all experiments" />;
  if (!found.data) return <section className="main"><p className="muted">Loading…</p></section>;
  return <>{children}</>;
}
