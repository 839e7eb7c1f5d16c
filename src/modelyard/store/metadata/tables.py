"""SQLAlchemy tables of the metadata store (Core, no ORM: rows go straight to typed objects)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("lifecycle", String(16), nullable=False, default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False, index=True),
    Column("name", String(500), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_id", String(32), nullable=True, index=True),
    Column("user", String(250), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("lifecycle", String(16), nullable=False, default="active"),
    Column("deleted_at", BigInteger, nullable=True),
    # Read copies (JSON) of params, tags and metric summaries, rewritten by every write that
    # changes them: listing 1,000 runs reads 1,000 rows instead of ~30,000 (docs/design.md).
    Column("params_doc", Text, nullable=False, default="{}"),
    Column("tags_doc", Text, nullable=False, default="{}"),
    Column("metrics_doc", Text, nullable=False, default="{}"),
)

# Covers the experiments overview's activity query (tracking/activity.py): count and latest
# start or end of the active runs per experiment, read from the index alone.
Index(
    "ix_runs_activity", runs.c.experiment_id, runs.c.lifecycle, runs.c.start_time, runs.c.end_time
)

run_params = Table(
    "run_params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)
Index("ix_run_params_key", run_params.c.key)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)
Index("ix_run_tags_key", run_tags.c.key)

# Metric points live in chunks: one row holds many points of one (run, key) as packed arrays.
metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("n", Integer, nullable=False),
    Column("step_min", BigInteger, nullable=False),
    Column("step_max", BigInteger, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("values", LargeBinary, nullable=False),
    Column("timestamps", LargeBinary, nullable=False),
)
Index("ix_metric_chunks_run_key", metric_chunks.c.run_id, metric_chunks.c.key, metric_chunks.c.id)

# One row per (run, key) for search and tables: last value (by step, then time), min, max, count.
# A NULL value means NaN (SQLite cannot store NaN); +/-inf are stored as they are.
metric_summaries = Table(
    "metric_summaries",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("last_value", Float(53), nullable=True),
    Column("last_step", BigInteger, nullable=False),
    Column("last_timestamp", BigInteger, nullable=False),
    Column("min_value", Float(53), nullable=True),
    Column("max_value", Float(53), nullable=True),
    Column("count", BigInteger, nullable=False),
    Column("chunks", Integer, nullable=False),
)
Index("ix_metric_summaries_key_last", metric_summaries.c.key, metric_summaries.c.last_value)

# Batch ids already applied: a retried batch (SDK retry, `modelyard sync`) is applied once.
applied_batches = Table(
    "applied_batches",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("run_id", String(32), nullable=False, index=True),
    Column("applied_at", BigInteger, nullable=False),
)

# -- registry: tags and params of these small tables are JSON documents on the row itself.
logged_models = Table(
    "logged_models",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False, index=True),
    Column("name", String(500), nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("status_message", Text, nullable=False, default=""),
    Column("model_type", String(250), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("lifecycle", String(16), nullable=False, default="active"),
    Column("params_doc", Text, nullable=False, default="{}"),
    Column("tags_doc", Text, nullable=False, default="{}"),
)

# Metrics logged for a logged model (MLflow 3: a metric point that names a model_id, and maybe
# the dataset it was measured on). The run keeps the same point in its own series too.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(34), ForeignKey("logged_models.id"), nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("key", String(250), nullable=False),
    Column("value", Float(53), nullable=True),  # NULL is NaN, as in metric_summaries
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(64), nullable=True),
)
Index(
    "ix_logged_model_metrics_model_key", logged_model_metrics.c.model_id, logged_model_metrics.c.key
)

# Models a run read (input) or produced (output), as MLflow 3's run inputs and outputs list them.
run_models = Table(
    "run_models",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("model_id", String(34), ForeignKey("logged_models.id"), primary_key=True),
    Column("direction", String(8), primary_key=True),  # input | output
    Column("step", BigInteger, nullable=False, default=0),
)
Index("ix_run_models_model", run_models.c.model_id)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("user", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("next_version", Integer, nullable=False, default=1),  # numbers are never reused
    Column("tags_doc", Text, nullable=False, default="{}"),
    Column("card", Text, nullable=False, default="", server_default=""),  # Markdown model card
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("artifact_prefix", Text, nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True, index=True),
    Column("logged_model_id", String(34), ForeignKey("logged_models.id"), nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("stage", String(16), nullable=False, default="None"),
    Column("user", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("tags_doc", Text, nullable=False, default="{}"),
    Column("package_digest", String(64), nullable=True),  # sha256 of its modelyard.json
    Column("package_doc", Text, nullable=True),  # the manifest: flavor, signature, dependencies
)

# Trust decisions: a package digest someone allowed to load although its format runs code.
trusted_packages = Table(
    "trusted_packages",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user", String(250), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(255), primary_key=True),
    Column("version", Integer, nullable=False),
)

# Every registry change, kept after the model is deleted: "who moved champion, when, why".
registry_events = Table(
    "registry_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_name", String(500), nullable=False),
    Column("version", Integer, nullable=True),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
    Column("user", String(250), nullable=False),
    Column("at", BigInteger, nullable=False),
)
Index("ix_registry_events_model_at", registry_events.c.model_name, registry_events.c.at)

# Artifact files: a logical key ("runs/<id>/model/model.skops") names a content-addressed blob.
# The key sorts bytewise on both engines (collation "C"), so a folder is one index range scan.
ARTIFACT_KEY = String(1536).with_variant(String(1536, collation="C"), "postgresql")
artifact_files = Table(
    "artifact_files",
    metadata,
    Column("key", ARTIFACT_KEY, primary_key=True),
    Column("digest", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Blobs that lost their last reference, and since when: `modelyard gc` deletes them after a grace.
artifact_orphans = Table(
    "artifact_orphans",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("since", BigInteger, nullable=False),
)

# Datasets: named, with immutable versions (files named in artifact_files under
# datasets/<id>/<version>/), a schema and a statistical profile that serves as drift reference.
datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("user", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("next_version", Integer, nullable=False, default=1),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),  # sha256 of the sorted (path, sha256) list
    Column("source", Text, nullable=False),  # where it was read from (a path, "dataframe", a URI)
    Column("num_rows", BigInteger, nullable=True),
    Column("num_files", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("schema_doc", Text, nullable=False, default="[]"),
    Column("profile_doc", Text, nullable=False, default="{}"),
    Column("description", Text, nullable=False, default=""),
    Column("tags_doc", Text, nullable=False, default="{}"),
    Column("user", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),  # files released; metadata kept for lineage
    # An MLflow dataset's own digest, for a version that only references data (filters on it)
    Column("reference_digest", String(256), nullable=True),
)
Index(
    "ix_dataset_versions_digest",
    dataset_versions.c.dataset_id,
    dataset_versions.c.digest,
    unique=True,
)

# Lineage: which dataset versions a run read (input) and wrote (output).
run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True, index=True),
    Column("version", Integer, primary_key=True),
    Column("direction", String(8), primary_key=True),  # input | output
    Column("context", String(250), nullable=False, default=""),  # training, evaluation, ...
    Column("tags_doc", Text, nullable=False, default="{}", server_default="{}"),  # input tags
)

# Promotion workflow: a version proposed for a stage, reviewed, optionally gated by metric rules.
promotions = Table(
    "promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_name", String(500), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("stage", String(16), nullable=False),
    Column("alias", String(255), nullable=True),  # moved to the version on approval
    Column("rules_doc", Text, nullable=False, default="[]"),
    Column("status", String(16), nullable=False),  # open | approved | rejected
    Column("proposed_by", String(250), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("decided_by", String(250), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("gates_doc", Text, nullable=False, default="[]"),  # rule results at the decision
)

promotion_comments = Table(
    "promotion_comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("promotion_id", Integer, ForeignKey("promotions.id"), nullable=False, index=True),
    Column("user", String(250), nullable=False),
    Column("verdict", String(16), nullable=False),  # comment | approve | reject
    Column("text", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)

# Multipart upload sessions, shared by every server replica (the bytes: staging folder or S3).
upload_sessions = Table(
    "upload_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("native_id", Text, nullable=False, default=""),  # the backend's own id (S3 UploadId)
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False, index=True),
)

upload_parts = Table(
    "upload_parts",
    metadata,
    Column("upload_id", String(32), ForeignKey("upload_sessions.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("etag", Text, nullable=False, default=""),  # what S3 answered (joining names it)
)

# Deployments: a named endpoint over a registered model; the policy (traffic split, shadow, warm
# versions, rollout in progress) is one JSON document, changed by compare-and-set on revision.
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(500), primary_key=True),
    Column("model_name", String(500), nullable=False, index=True),
    Column("follow", String(255), nullable=True),  # the alias it follows
    Column("engine", String(16), nullable=False),  # process | external | ray
    Column("port", Integer, nullable=True),
    Column("replicas", Integer, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("policy_doc", Text, nullable=False),
)

# The latest heartbeat of each serving process of a deployment (cumulative counters per version).
deployment_instances = Table(
    "deployment_instances",
    metadata,
    Column("deployment", String(500), ForeignKey("deployments.name"), primary_key=True),
    Column("instance", String(255), primary_key=True),
    Column("url", Text, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("report_doc", Text, nullable=False),
)

# Every policy change of a deployment; events name the deployment, so they outlive it.
deployment_events = Table(
    "deployment_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(500), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("action", String(32), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("before_doc", Text, nullable=False, default="{}"),
    Column("after_doc", Text, nullable=False, default="{}"),
)
Index("ix_deployment_events_deployment_at", deployment_events.c.deployment, deployment_events.c.at)

# ---- monitoring -------------------------------------------------------------------------------

# An alert rule on one monitoring figure of a deployment, with its evaluation state.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("deployment", String(500), nullable=False),
    Column("metric", String(128), nullable=False),  # e.g. "accuracy", "latency_p99_ms"
    Column("window_s", Integer, nullable=False),
    Column("op", String(4), nullable=False),  # ">", ">=", "<", "<="
    Column("threshold", Float, nullable=False),
    Column("for_s", Integer, nullable=False, default=0),
    Column("channels_doc", Text, nullable=False, default="[]"),
    Column("action", String(64), nullable=True),
    Column("enabled", Integer, nullable=False, default=1),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False, default="ok"),  # ok, pending, firing, no_data
    Column("pending_since", BigInteger, nullable=True),
    Column("silenced_until", BigInteger, nullable=True),
    Column("last_value", Float, nullable=True),
    Column("last_evaluated", BigInteger, nullable=True),
)
Index("ix_alert_rules_deployment", alert_rules.c.deployment)

# Every firing of a rule, from the moment it fired to its resolution.
alert_firings = Table(
    "alert_firings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, nullable=False),  # no foreign key: history outlives its rule
    Column("rule_name", String(250), nullable=False),
    Column("deployment", String(500), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("value", Float, nullable=True),
    Column("status", String(16), nullable=False),  # firing, acknowledged, resolved
    Column("acknowledged_by", String(250), nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    Column("resolved_by", String(250), nullable=True),
    Column("notified_at", BigInteger, nullable=True),  # last "firing" notification claimed
)
Index("ix_alert_firings_rule_started", alert_firings.c.rule_id, alert_firings.c.started_at)
Index("ix_alert_firings_deployment_started", alert_firings.c.deployment, alert_firings.c.started_at)

# What happened to rules and firings: notifications sent or failed, silences, acknowledgements.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, nullable=False),
    Column("firing_id", Integer, nullable=True),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(250), nullable=False),
    Column("detail_doc", Text, nullable=False, default="{}"),
)
Index("ix_alert_events_rule_at", alert_events.c.rule_id, alert_events.c.at)

# The active availability probe of each deployment, counted per minute.
monitor_probes = Table(
    "monitor_probes",
    metadata,
    Column("deployment", String(500), primary_key=True),
    Column("minute", BigInteger, primary_key=True),  # ms since the epoch, at the minute's start
    Column("ok", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("latency_ms_sum", Float, nullable=False, default=0.0),
)

# ---- access control and audit -----------------------------------------------------------------

# Accounts: local (argon2 password hash) or from single sign-on (no password; ``issuer``/``subject``).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("password_hash", Text, nullable=True),  # argon2; NULL: cannot log in with a password
    Column("is_admin", Integer, nullable=False, default=0),
    Column("disabled", Integer, nullable=False, default=0),
    Column("issuer", String(500), nullable=True),  # OIDC issuer of an SSO account
    Column("subject", String(250), nullable=True),  # OIDC subject
    Column("email", String(320), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_users_issuer_subject", users.c.issuer, users.c.subject)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("from_sso", Integer, nullable=False, default=0),  # kept in step with an SSO groups claim
)

# API tokens: shown once, stored as the SHA-256 of their secret (a lookup by id, then a constant-time
# compare); ``scope`` caps what the token may do whatever its owner's roles.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(250), nullable=False),
    Column("kind", String(16), nullable=False),  # personal | service
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scope", String(16), nullable=False),  # read | write | admin
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Column("last_used_from", String(64), nullable=True),
)
Index("ix_api_tokens_user_id", api_tokens.c.user_id)

# Roles granted to a user, team or token on one object, or on the whole server (kind "server").
grants = Table(
    "grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("principal_kind", String(8), nullable=False),  # user | team | token
    Column("principal", String(64), nullable=False),  # user id, team id or token id
    Column(
        "resource_kind", String(16), nullable=False
    ),  # server|experiment|model|dataset|deployment
    Column("resource", String(500), nullable=False),  # "" for the server
    Column("role", String(16), nullable=False),  # viewer | editor | maintainer | admin
    Column("granted_by", String(250), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
)
Index(
    "ix_grants_principal_resource",
    grants.c.principal_kind,
    grants.c.principal,
    grants.c.resource_kind,
    grants.c.resource,
    unique=True,
)
Index("ix_grants_resource", grants.c.resource_kind, grants.c.resource)

# Web UI sessions: the cookie holds a random id, stored hashed; writes must carry the CSRF token.
ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# The audit log: one record per write, append-only, each carrying the hash of the one before.
audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("actor_kind", String(16), nullable=False),  # user | token | anonymous | local | serving
    Column("token_id", String(32), nullable=True),
    Column("address", String(64), nullable=False),
    Column("action", String(128), nullable=False),  # e.g. "POST /api/v1/runs" or "grant.create"
    Column("object_kind", String(16), nullable=False),
    Column("object_id", String(500), nullable=False),
    Column("status", Integer, nullable=False),
    Column("changes_doc", Text, nullable=False, default="{}"),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_records_at", audit_records.c.at)
Index("ix_audit_records_actor_at", audit_records.c.actor, audit_records.c.at)
Index("ix_audit_records_object", audit_records.c.object_kind, audit_records.c.object_id)

# The chain's head, one row: appenders lock it (FOR UPDATE), so several servers extend one chain.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# MLflow 3 traces: one row per trace, its tags and request metadata as JSON read copies; the
# spans are a file of the artifact store (traces/<trace id>/traces.json), written by the client.
traces = Table(
    "traces",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("request_time", BigInteger, nullable=False),  # ms since the epoch
    Column("execution_duration", BigInteger, nullable=True),  # ms
    Column("state", String(32), nullable=False),  # OK | ERROR | IN_PROGRESS | STATE_UNSPECIFIED
    Column("client_request_id", String(250), nullable=True),
    Column("request_preview", Text, nullable=False, default=""),
    Column("response_preview", Text, nullable=False, default=""),
    Column("metadata_doc", Text, nullable=False, default="{}"),
    Column("tags_doc", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_traces_experiment_time", traces.c.experiment_id, traces.c.request_time)

# The runs a trace belongs to: the run active when it was made (mlflow.sourceRun) and the
# runs it was linked to later. No foreign key to runs: a run purged by gc leaves its traces.
trace_runs = Table(
    "trace_runs",
    metadata,
    Column("trace_id", String(64), ForeignKey("traces.id"), primary_key=True),
    Column("run_id", String(32), primary_key=True),
)
Index("ix_trace_runs_run_id", trace_runs.c.run_id)

# Saved views of an experiment's runs page: a name and the page's URL query string (filter,
# columns, sort, grouping, charts), shared by everyone who may read the experiment.
saved_views = Table(
    "saved_views",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("query", Text, nullable=False),
    Column("owner", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("experiment_id", "name", name="uq_saved_views_experiment_name"),
)
