"""The SDK's heartbeat: a reserved tag its background thread refreshes on its running runs.

A RUNNING run whose heartbeat is older than MODELYARD_HEARTBEAT_TIMEOUT lost its process (a
SIGKILL, the OOM killer, a lost machine): ``TrackingService.sweep_vanished_runs`` marks it
KILLED. Runs without the tag (the mlflow client, the REST API) are never swept.
"""

from __future__ import annotations

from typing import Any

TAG = "my.heartbeat"  # milliseconds since the epoch, 13 digits


def sweep_embedded(client: Any) -> None:
    """Sweep an embedded store when the SDK opens it (a server sweeps on its own)."""
    sweep = getattr(getattr(client, "service", None), "sweep_vanished_runs", None)
    if callable(sweep):
        sweep()
