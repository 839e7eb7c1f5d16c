"""Request and response bodies of the REST API, named by direction (In / Out)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Special = Literal["NaN", "Infinity", "-Infinity"]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` put in place of each ``$ref`` (an OpenAPI
    document resolves ``#/$defs/...`` from its own root, where they are not)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return dict(inline(schema))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExperimentCreateIn(_In):
    name: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentUpdateIn(_In):
    name: str | None = None
    description: str | None = None


class TagValueIn(_In):
    value: str


class ExperimentOut(BaseModel):
    id: int
    name: str
    description: str
    lifecycle: Literal["active", "deleted"]
    created_at: int
    updated_at: int
    tags: dict[str, str]


class ExperimentListedOut(ExperimentOut):
    runs: int = Field(description="active runs")
    last_run_at: int | None = Field(
        description="the latest start or end of one of its runs (ms); null without runs"
    )


class RunCreateIn(_In):
    run_id: str | None = Field(
        None, description="32 hex chars; client-chosen ids make retries safe"
    )
    experiment_id: int | None = None
    experiment_name: str | None = Field(None, description="created when missing")
    name: str | None = None
    parent_id: str | None = None
    start_time: int | None = Field(None, description="ms since the epoch")
    tags: dict[str, str] = Field(default_factory=dict)


class RunUpdateIn(_In):
    status: Literal["RUNNING", "FINISHED", "FAILED", "KILLED"] | None = None
    end_time: int | None = None
    name: str | None = None
    notes: str | None = None


class MetricSummaryOut(BaseModel):
    last: float | Special
    step: int
    timestamp: int
    min: float | Special
    max: float | Special
    count: int


class RunOut(BaseModel):
    id: str
    experiment_id: int
    name: str
    status: Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
    start_time: int
    end_time: int | None
    parent_id: str | None
    user: str
    notes: str
    lifecycle: Literal["active", "deleted"]
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, MetricSummaryOut]


class SearchIn(_In):
    experiment_ids: list[int] | None = None
    filter: str | None = Field(None, description="search grammar, see docs/search.md")
    order_by: list[str] = Field(default_factory=list)
    max_results: int = 1000
    page_token: str | None = None
    view: Literal["active", "deleted", "all"] = "active"


class RunPageOut(BaseModel):
    runs: list[RunOut]
    next_page_token: str | None


class MetricPointsIn(_In):
    key: str
    values: list[float | Special]
    steps: list[int] | None = Field(None, description="default 0..n-1")
    timestamps: list[int] | None = Field(None, description="ms since the epoch; default now")


class RunBatchIn(_In):
    """Everything written to one run in one request; applied atomically and at most once."""

    run_id: str
    batch_id: str | None = Field(None, description="a retried batch with the same id is skipped")
    create: RunCreateIn | None = None
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: list[MetricPointsIn] = Field(default_factory=list)
    update: RunUpdateIn | None = None


class IngestIn(_In):
    batches: list[RunBatchIn]


class IngestOut(BaseModel):
    applied: int
    duplicates: int
    points: int


class MetricHistoryOut(BaseModel):
    key: str
    steps: list[int]
    values: list[float | Special]
    timestamps: list[int]
    total: int = Field(description="points stored before windowing and downsampling")


class HistoriesIn(_In):
    """Metric series of many runs at once (for charts): at most 1,000 runs x 100 keys."""

    run_ids: list[str] = Field(min_length=1, max_length=1000)
    keys: list[str] = Field(min_length=1, max_length=100)
    max_points: int | None = Field(
        None, ge=3, le=1_000_000, description="downsample each series to this"
    )
    point_budget: int | None = Field(
        None,
        ge=3,
        le=10_000_000,
        description="downsample so that all the series together keep about this many points",
    )
    method: Literal["minmax", "lttb"] = "minmax"
    x_min: float | None = Field(None, description="first step of the window")
    x_max: float | None = Field(None, description="last step of the window")
    timestamps: bool = Field(True, description="false leaves the timestamps out (x by step)")


class SeriesOut(BaseModel):
    run_id: str
    key: str
    steps: list[int]
    values: list[float | Special]
    timestamps: list[int] | None = Field(
        None, description="left out when the request says timestamps: false"
    )
    total: int = Field(description="points stored before windowing and downsampling")
    in_window: int = Field(description="points in the step window before downsampling")


class HistoriesOut(BaseModel):
    series: list[SeriesOut]


class TablePreviewOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    total_rows: int | None = Field(description="null when counting would read the whole file")
    truncated: bool


class ArtifactOut(BaseModel):
    path: str
    is_dir: bool
    size: int | None


class GcIn(_In):
    older_than_seconds: float = 0.0
    dry_run: bool = True


class GcOut(BaseModel):
    run_ids: list[str]
    artifact_files: int
    artifact_bytes: int
    blobs: int
    blob_bytes: int
    uploads: int
    dry_run: bool


class BlobsMissingIn(_In):
    digests: list[str] = Field(max_length=200_000)


class UploadCompleteIn(_In):
    digest: str | None = Field(None, description="sha256 the joined parts must hash to")


class ArtifactLinkIn(_In):
    files: dict[str, str] = Field(
        max_length=200_000, description="path -> sha256 digest of a blob already uploaded"
    )


class PackageIn(_In):
    files: dict[str, str] = Field(
        description="path -> sha256 of uploaded blobs, with modelyard.json"
    )
    run_id: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class ReasonIn(_In):
    reason: str = ""


class AliasIn(_In):
    version: int
    reason: str = ""


class VersionUpdateIn(_In):
    description: str | None = None
    stage: str | None = None
    archive_others: bool = False
    reason: str = ""


class CardIn(_In):
    card: str


class DatasetVersionIn(_In):
    files: dict[str, str] = Field(
        max_length=1_000_000, description="path -> sha256 of uploaded blobs"
    )
    source: str = ""
    num_rows: int | None = Field(None, ge=0)
    schema_: list[dict[str, Any]] = Field(default_factory=list, alias="schema")
    profile: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class DatasetUseIn(_In):
    name: str
    version: int
    direction: Literal["input", "output"] = "input"
    context: str = ""


class PromotionIn(_In):
    stage: str
    rules: list[str] = Field(default_factory=list, description="e.g. accuracy >= champion.accuracy")
    alias: str | None = None
    reason: str = ""


class CommentIn(_In):
    text: str


class DecisionIn(_In):
    comment: str = ""


class SplitIn(_In):
    version: int = Field(ge=1, le=2**31 - 1)
    weight: float = Field(ge=0, le=100, allow_inf_nan=False, description="percent")


class RolloutIn(_In):
    strategy: Literal["blue-green", "canary"] = "blue-green"
    steps: list[float] = Field(
        default_factory=lambda: [10.0, 25.0, 50.0, 100.0],
        min_length=1,
        max_length=20,
        description="canary percentages, growing; blue-green ignores them",
    )
    interval_s: float = Field(60.0, ge=0, le=7 * 86400, allow_inf_nan=False)
    max_error_rate_increase: float = Field(0.02, ge=0, le=1, allow_inf_nan=False)
    max_latency_ratio: float = Field(1.5, ge=1, le=1000, allow_inf_nan=False)
    min_requests: int = Field(50, ge=1, le=10**9)
    quality_metric: str | None = Field(
        None,
        max_length=64,
        description="gate the canary on a monitoring figure (accuracy, estimated_accuracy, ...)",
    )
    max_quality_drop: float = Field(0.02, ge=0, le=1e9, allow_inf_nan=False)


class LoggingIn(_In):
    exclude: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=1000, description="columns never logged"
    )
    hash: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=1000, description="columns logged as a keyed hash"
    )
    sample: float = Field(1.0, gt=0, le=1, allow_inf_nan=False, description="share logged")


class LoggingChangeIn(LoggingIn):
    reason: str = ""
    revision: int | None = Field(None, description="CONFLICT unless the deployment is at it")


class DeploymentCreateIn(_In):
    name: str
    model: str = Field(description="models:/NAME@ALIAS (follows the alias) or models:/NAME/N")
    engine: Literal["process", "external", "ray"] = "process"
    port: int | None = Field(None, ge=1, le=65535)
    replicas: int = Field(1, ge=1, le=64)
    rollout: RolloutIn | None = None
    sticky_header: str | None = Field(None, max_length=100)
    logging: LoggingIn | None = Field(None, description="what the prediction log keeps")
    reason: str = ""
    serving_url: str | None = Field(
        None,
        max_length=2048,
        description='engine "external" or "ray": where callers reach it, http(s)://host:port',
    )


class ServingTokenIn(_In):
    serving_url: str | None = Field(
        None, max_length=2048, description="absent: unchanged; null or empty: none"
    )
    reason: str = ""


class TrafficIn(_In):
    traffic: list[SplitIn] = Field(min_length=1, max_length=16, description="weights sum to 100")
    shadow: list[int] | None = Field(None, max_length=16, description="absent: unchanged")
    sticky_header: str | None = Field(
        None, max_length=100, description="absent: unchanged; null or empty: none"
    )
    reason: str = ""
    revision: int | None = Field(None, description="CONFLICT unless the deployment is at it")


class PromoteIn(_In):
    version: int = Field(ge=1, le=2**31 - 1)
    strategy: Literal["blue-green", "canary"] | None = None
    reason: str = ""
    revision: int | None = None


class RollbackIn(_In):
    reason: str = ""
    revision: int | None = None


class VersionReportIn(_In):
    state: Literal["ready", "loading", "failed"]
    error: str | None = Field(None, max_length=65_536, description="kept to 4,000 characters")
    requests: int = Field(0, ge=0, le=2**63 - 1, description="since the process started")
    errors: int = Field(0, ge=0, le=2**63 - 1)
    latency_buckets: list[Annotated[int, Field(ge=0, le=2**63 - 1)]] = Field(
        min_length=13, max_length=13, description="counts per LATENCY_BOUNDS_MS bucket"
    )
    rps: float = Field(0.0, ge=0, le=1e12, allow_inf_nan=False)


class HeartbeatIn(_In):
    instance: str = Field(min_length=1, max_length=255, description='e.g. "host:pid"')
    url: str = Field(
        max_length=2048,
        description="http(s)://host:port[/path] where callers reach the process (the probe "
        "fetches /ready there)",
    )
    versions: dict[str, VersionReportIn] = Field(default_factory=dict, max_length=64)
