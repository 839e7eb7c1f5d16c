"""Typed settings; every environment variable modelyard reads is declared here, once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: name, type, default and a doc line."""

    env: str
    default: T
    doc: str

    def get(self) -> T:
        raw = os.environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        kind = type(self.default)
        if kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}  # type: ignore[return-value]
        if kind is int:
            return int(raw)  # type: ignore[return-value]
        if kind is float:
            return float(raw)  # type: ignore[return-value]
        return raw  # type: ignore[return-value]


HOME = Setting("MODELYARD_HOME", "", "Data directory; default ~/.modelyard.")
TRACKING_URI = Setting(
    "MODELYARD_TRACKING_URI",
    "",
    "Where the SDK and CLI log: http(s)://host:port, sqlite:///path, postgresql+psycopg://..., "
    "or a folder; default is the embedded store under MODELYARD_HOME.",
)
STORE_URI = Setting("MODELYARD_STORE_URI", "", "Metadata store URI used by `modelyard server`.")
ARTIFACTS_URI = Setting("MODELYARD_ARTIFACTS_URI", "", "Artifact root used by `modelyard server`.")
STAGING_DIR = Setting(
    "MODELYARD_STAGING_DIR",
    "",
    "Local folder for uploads in progress when artifacts live in S3; default the temp folder.",
)
UPLOAD_GRACE_HOURS = Setting(
    "MODELYARD_UPLOAD_GRACE_HOURS",
    24.0,
    "Hours an unfinished multipart upload is kept before `modelyard gc` removes it.",
)
MAX_BODY_MB = Setting("MODELYARD_MAX_BODY_MB", 64, "Largest JSON request body the server accepts.")
MAX_PARAM_BYTES = Setting(
    "MODELYARD_MAX_PARAM_BYTES",
    65536,
    "Largest param or tag value, in UTF-8 bytes (at least 1024).",
)
ALLOWED_HOSTS = Setting(
    "MODELYARD_ALLOWED_HOSTS",
    "",
    "Comma-separated Host names `modelyard server` answers to besides loopback and --host "
    "(`*`: any); guards against DNS rebinding.",
)
HEADER_TIMEOUT = Setting(
    "MODELYARD_HEADER_TIMEOUT",
    10.0,
    "Seconds a client may take to send a request's headers before the server hangs up.",
)
KEEP_ALIVE_TIMEOUT = Setting(
    "MODELYARD_KEEP_ALIVE_TIMEOUT", 5.0, "Seconds an idle keep-alive connection stays open."
)
MAX_CONNECTIONS = Setting(
    "MODELYARD_MAX_CONNECTIONS",
    1000,
    "Open connections (and requests in progress) past which the server answers 503.",
)
FLUSH_INTERVAL = Setting(
    "MODELYARD_FLUSH_INTERVAL", 1.0, "Seconds between background flushes of the SDK buffer."
)
BUFFER_POINTS = Setting(
    "MODELYARD_BUFFER_POINTS",
    1_000_000,
    "Metric points the SDK buffers before log calls wait for the flusher (back-pressure).",
)
SYSTEM_METRICS_INTERVAL = Setting(
    "MODELYARD_SYSTEM_METRICS_INTERVAL",
    10.0,
    "Seconds between system metric samples; 0 turns sampling off.",
)
HTTP_TIMEOUT = Setting("MODELYARD_HTTP_TIMEOUT", 30.0, "Seconds the SDK waits for the server.")
EXIT_FLUSH_TIMEOUT = Setting(
    "MODELYARD_EXIT_FLUSH_TIMEOUT",
    60.0,
    "Seconds the SDK spends flushing at exit before journaling what is left.",
)
HEARTBEAT_INTERVAL = Setting(
    "MODELYARD_HEARTBEAT_INTERVAL",
    30.0,
    "Seconds between the SDK's heartbeats (the my.heartbeat tag) on the runs it is running.",
)
HEARTBEAT_TIMEOUT = Setting(
    "MODELYARD_HEARTBEAT_TIMEOUT",
    600.0,
    "Seconds without a heartbeat after which a RUNNING run is marked KILLED (its process "
    "vanished); 0 turns the sweep off. Runs that never had a heartbeat are never touched.",
)
SQLITE_SYNCHRONOUS = Setting(
    "MODELYARD_SQLITE_SYNCHRONOUS",
    "normal",
    "SQLite durability: `normal` survives a killed process, `full` also a power cut (slower).",
)
CAPTURE_GIT_DIFF = Setting(
    "MODELYARD_CAPTURE_GIT_DIFF",
    False,
    "Upload `git diff HEAD` (uncommitted changes) with each run as code/diff.patch; off by "
    "default since the diff may hold secrets. Commit, branch and dirty flag are always tagged.",
)
PREDICTION_LOG = Setting(
    "MODELYARD_PREDICTION_LOG",
    "",
    "Folder of the serving processes' Parquet prediction log; default MODELYARD_HOME/predictions; "
    "`off` turns the log off.",
)
SERVE_MAX_BATCH_ROWS = Setting(
    "MODELYARD_SERVE_MAX_BATCH_ROWS", 256, "Most rows a serving process merges into one model call."
)
SERVE_MAX_WAIT_MS = Setting(
    "MODELYARD_SERVE_MAX_WAIT_MS",
    2.0,
    "Most milliseconds a batch waits for requests that are already arriving (never for others).",
)

MONITORING_DIR = Setting(
    "MODELYARD_MONITORING_DIR",
    "",
    "Folder of the monitoring store (typed prediction tables and labels, Parquet); default "
    "MODELYARD_HOME/monitoring.",
)
MONITORING_RETENTION_DAYS = Setting(
    "MODELYARD_MONITORING_RETENTION_DAYS",
    90,
    "Days the prediction log and the monitoring tables are kept (long enough for late labels).",
)
MONITORING_INGEST_INTERVAL = Setting(
    "MODELYARD_MONITORING_INGEST_INTERVAL",
    5.0,
    "Seconds between the server's passes that turn new prediction-log files into monitoring tables.",
)
ALERT_INTERVAL = Setting(
    "MODELYARD_ALERT_INTERVAL", 30.0, "Seconds between evaluations of the alert rules."
)
PROBE_INTERVAL = Setting(
    "MODELYARD_PROBE_INTERVAL",
    10.0,
    "Seconds between the availability probes of each deployment's serving processes.",
)
ALERT_ALLOW_PRIVATE = Setting(
    "MODELYARD_ALERT_ALLOW_PRIVATE",
    False,
    "Let alert webhooks reach loopback, private and link-local addresses (off: such targets "
    "are refused, so a rule cannot probe the server's own network).",
)
SMTP_HOST = Setting("MODELYARD_SMTP_HOST", "", "SMTP server for alert e-mails (empty: no e-mail).")
SMTP_PORT = Setting("MODELYARD_SMTP_PORT", 587, "Port of the SMTP server.")
SMTP_USER = Setting("MODELYARD_SMTP_USER", "", "SMTP login (empty: no login).")
SMTP_PASSWORD = Setting("MODELYARD_SMTP_PASSWORD", "", "SMTP password.")
SMTP_FROM = Setting("MODELYARD_SMTP_FROM", "modelyard@localhost", "Sender of alert e-mails.")
SMTP_STARTTLS = Setting(
    "MODELYARD_SMTP_STARTTLS", True, "Upgrade the SMTP connection with STARTTLS before login."
)

AUTH = Setting(
    "MODELYARD_AUTH",
    False,
    "Turn on access control in `modelyard server` (same as --auth): every request needs a "
    "token, a password or a UI session, and roles decide what it may do.",
)
ADMIN_PASSWORD = Setting(
    "MODELYARD_ADMIN_PASSWORD",
    "",
    "Password of the `admin` account an auth-enabled server makes on first start (empty: "
    "a generated one, printed once).",
)
TOKEN = Setting(
    "MODELYARD_TOKEN",
    "",
    "API token the SDK and CLI send to the server (`modelyard login` stores one instead).",
)
CA_BUNDLE = Setting(
    "MODELYARD_CA_BUNDLE",
    "",
    "CA certificates (PEM file) the SDK and CLI trust for an https server (default: the system's).",
)
OIDC_ISSUER = Setting(
    "MODELYARD_OIDC_ISSUER",
    "",
    "OpenID Connect issuer URL for the web UI's single sign-on (empty: no single sign-on).",
)
OIDC_CLIENT_ID = Setting("MODELYARD_OIDC_CLIENT_ID", "", "OpenID Connect client id.")
OIDC_CLIENT_SECRET = Setting("MODELYARD_OIDC_CLIENT_SECRET", "", "OpenID Connect client secret.")
OIDC_GROUPS_CLAIM = Setting(
    "MODELYARD_OIDC_GROUPS_CLAIM",
    "groups",
    "ID-token claim listing the user's groups; groups named like a team make them its member.",
)
RATE_LIMIT = Setting(
    "MODELYARD_RATE_LIMIT",
    200.0,
    "Requests per second each token (or each address, without one) may send on average, in "
    "bursts of up to 10x; past it the server answers 429 with Retry-After (0: no limit). "
    "The SDK batches; an mlflow client logging one call at a time sends up to ~100 a second.",
)
TOKEN_MAX_UPLOAD_MB = Setting(
    "MODELYARD_TOKEN_MAX_UPLOAD_MB",
    0,
    "Largest upload (artifact, blob or part) one request may send, in MB, when auth is on "
    "(0: no limit beyond the store's).",
)
SERVING_TOKEN = Setting(
    "MODELYARD_SERVING_TOKEN",
    "",
    "A deployment's serving token, which `modelyard serve --deployment` sends with its "
    "heartbeats (the server hands it to the processes it starts; for engine external, "
    "`modelyard deploy token NAME`).",
)
ARTIFACTS_KEYS = Setting(
    "MODELYARD_ARTIFACTS_KEYS",
    "",
    "Encrypt local artifacts at rest: comma-separated `id:base64-key` (32-byte AES-256-GCM "
    "keys); the first encrypts, every one decrypts (rotation: put a new key first, then run "
    "`modelyard artifacts rekey`).",
)
S3_SSE = Setting(
    "MODELYARD_S3_SSE",
    "",
    "Server-side encryption of S3 artifacts: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS).",
)
S3_SSE_KMS_KEY_ID = Setting(
    "MODELYARD_S3_SSE_KMS_KEY_ID", "", "KMS key id or ARN for `MODELYARD_S3_SSE=aws:kms`."
)

RAY_ADDRESS = Setting(
    "MODELYARD_RAY_ADDRESS",
    "",
    'Ray cluster the server runs engine-"ray" deployments on (host:port of its GCS, or '
    "ray://...); default one started on this machine with `ray start`, else a local one.",
)
RAY_HTTP_HOST = Setting(
    "MODELYARD_RAY_HTTP_HOST",
    "127.0.0.1",
    "Interface of Ray Serve's HTTP proxy when the server starts Serve (an already running "
    "Serve keeps its own).",
)
RAY_HTTP_PORT = Setting(
    "MODELYARD_RAY_HTTP_PORT",
    8000,
    "Port of Ray Serve's HTTP proxy when the server starts Serve; deployments answer at /NAME.",
)
RAY_REPLICA_CPUS = Setting(
    "MODELYARD_RAY_REPLICA_CPUS",
    1.0,
    'CPUs Ray reserves for each replica of an engine-"ray" deployment.',
)

ALL_SETTINGS: tuple[Setting[object], ...] = (
    HOME,
    TRACKING_URI,
    STORE_URI,
    ARTIFACTS_URI,
    STAGING_DIR,
    UPLOAD_GRACE_HOURS,
    MAX_BODY_MB,
    MAX_PARAM_BYTES,
    ALLOWED_HOSTS,
    HEADER_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    MAX_CONNECTIONS,
    FLUSH_INTERVAL,
    BUFFER_POINTS,
    SYSTEM_METRICS_INTERVAL,
    HTTP_TIMEOUT,
    EXIT_FLUSH_TIMEOUT,
    CAPTURE_GIT_DIFF,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    SQLITE_SYNCHRONOUS,
    PREDICTION_LOG,
    SERVE_MAX_BATCH_ROWS,
    SERVE_MAX_WAIT_MS,
    AUTH,
    ADMIN_PASSWORD,
    TOKEN,
    CA_BUNDLE,
    OIDC_ISSUER,
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    OIDC_GROUPS_CLAIM,
    RATE_LIMIT,
    TOKEN_MAX_UPLOAD_MB,
    SERVING_TOKEN,
    ARTIFACTS_KEYS,
    S3_SSE,
    S3_SSE_KMS_KEY_ID,
    RAY_ADDRESS,
    RAY_HTTP_HOST,
    RAY_HTTP_PORT,
    RAY_REPLICA_CPUS,
)  # type: ignore[assignment]


def home_dir() -> Path:
    """The data directory (created on first use)."""
    raw = HOME.get()
    path = Path(raw).expanduser() if raw else Path.home() / ".modelyard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_store_uri() -> str:
    """SQLite file under the data directory."""
    return f"sqlite:///{home_dir() / 'modelyard.db'}"


def default_artifacts_uri() -> str:
    """Artifact folder under the data directory."""
    return str(home_dir() / "artifacts")


def journal_dir() -> Path:
    """Where the SDK keeps batches it could not deliver."""
    path = home_dir() / "journal"
    path.mkdir(parents=True, exist_ok=True)
    return path


def prediction_log_dir() -> Path | None:
    """Where serving processes append their prediction log (None: the log is off)."""
    raw = PREDICTION_LOG.get()
    if raw.strip().lower() == "off":
        return None
    return Path(raw).expanduser() if raw else home_dir() / "predictions"


def deployment_logs_dir() -> Path:
    """Where the server's serving processes write their output, a file per deployment."""
    return home_dir() / "deployments"


def monitoring_dir() -> Path:
    """Where the server keeps the monitoring tables (typed predictions and labels)."""
    raw = MONITORING_DIR.get()
    return Path(raw).expanduser() if raw else home_dir() / "monitoring"
