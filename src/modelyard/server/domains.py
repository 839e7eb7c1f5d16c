"""How a domain plugs into the server: its service, built from the opened stores, and its routes.

``create_app`` loops over a list of these, so a new domain (serving, monitoring, auth) is one
more entry, not an edit of the factory. Routes reach a domain's service with
``deps.service(name, type)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI

from modelyard import config
from modelyard.access.service import AccessService
from modelyard.datasets.service import DatasetsService
from modelyard.monitoring.alerting import AlertService, rollback_action
from modelyard.monitoring.notify import Notifier
from modelyard.monitoring.schedule import Every
from modelyard.monitoring.service import MonitoringService, monitoring_root
from modelyard.monitoring.store import MonitoringStore
from modelyard.registry.promotions import PromotionService
from modelyard.registry.service import RegistryService
from modelyard.server import mlflow
from modelyard.server.routes import (
    access,
    alerts,
    artifacts,
    audit,
    blobs,
    datasets,
    deployments,
    experiments,
    health,
    logged_models,
    monitoring,
    oidc,
    promotions,
    registry,
    runs,
    traces,
    views,
)
from modelyard.server.sweeper import Sweeper
from modelyard.serving.deployments import DeploymentService
from modelyard.serving.rollouts import Controller
from modelyard.serving.supervisor import Supervisor
from modelyard.store.stores import Stores
from modelyard.tracking.service import TrackingService

Services = Mapping[str, Any]


@dataclass(frozen=True)
class Domain:
    """One part of the server.

    ``build`` makes the domain's service from the stores and the services of the domains listed
    before it (None: the domain has routes only); ``routers`` go under ``/api/v1``; ``mount``
    adds anything else to the app (routes at other paths, such as MLflow's); ``running`` is
    background work on the domain's service for as long as the server runs (a sweep, a
    schedule), given the service and the server's settings, entered after the stores open and
    left before they close.
    """

    name: str
    build: Callable[[Stores, Services], object] | None = None
    routers: tuple[APIRouter, ...] = ()
    mount: Callable[[FastAPI], None] | None = None
    running: Callable[[Any, Any], AbstractContextManager[None]] | None = None


def _access(stores: Stores, _built: Services) -> AccessService:
    return AccessService(stores.db)


@contextmanager
def _access_running(service: AccessService, settings: Any) -> Iterator[None]:
    """An auth-enabled server on a store without accounts makes ``admin`` on start and prints
    its password once (unless it was given)."""
    if getattr(settings, "auth", False):
        password = service.ensure_admin(getattr(settings, "admin_password", None))
        if password is not None and not getattr(settings, "admin_password", None):
            import sys

            print(  # noqa: T201 - shown once, on the server's own terminal
                f"modelyard: made the admin account: user admin, password {password}\n"
                "  (shown once; change it with `modelyard users update admin --password`)",
                file=sys.stderr,
                flush=True,
            )
    yield


def _tracking(stores: Stores, _built: Services) -> TrackingService:
    return TrackingService(stores.db, stores.artifacts)


def _registry(stores: Stores, _built: Services) -> RegistryService:
    return RegistryService(stores.db, stores.artifacts)


def _promotions(_stores: Stores, built: Services) -> PromotionService:
    return PromotionService(built["registry"])


def _datasets(stores: Stores, _built: Services) -> DatasetsService:
    return DatasetsService(stores.db, stores.artifacts)


@contextmanager
def _sweeping(service: TrackingService, _settings: Any) -> Iterator[None]:
    """Runs whose SDK process vanished (no heartbeat) are marked KILLED while the server runs."""
    sweeper = Sweeper(service).start()
    try:
        yield
    finally:
        sweeper.stop()


def _deployments(stores: Stores, _built: Services) -> DeploymentService:
    return DeploymentService(stores.db)


@contextmanager
def _controlling(service: DeploymentService, settings: Any) -> Iterator[None]:
    """Rollouts advance (and roll back on their gates) while the server runs; when the server
    knows its own address, it also keeps a serving process per "process" deployment."""
    controller = Controller(service.tick).start()
    supervisor = None
    if settings.url and settings.supervise:
        supervisor = Supervisor(
            service,
            settings.url,
            config.deployment_logs_dir(),
            prediction_log=config.prediction_log_dir(),
        ).start()
    try:
        yield
    finally:
        if supervisor is not None:
            supervisor.stop()
        controller.stop()


def _alerts(stores: Stores, built: Services) -> AlertService:
    """Rules read their figures from the monitoring domain (no data while there is none)."""

    def figure(deployment: str, metric: str, window_s: int, now_ms: int) -> float | None:
        monitoring = built.get("monitoring")
        if monitoring is None:
            return None
        value: float | None = monitoring.figure(deployment, metric, window_s, now_ms)
        return value

    deployments: DeploymentService = built["deployments"]
    actions = {"rollback": rollback_action(deployments.rollback)}
    return AlertService(stores.db, figure=figure, notifier=Notifier(), actions=actions)


@contextmanager
def _alerting(service: AlertService, settings: Any) -> Iterator[None]:
    """The rules are evaluated every MODELYARD_ALERT_INTERVAL seconds while the server runs."""
    if settings.url:
        service.base_url = settings.url
    schedule = Every(config.ALERT_INTERVAL.get(), service.evaluate, "alerts").start()
    try:
        yield
    finally:
        schedule.stop()
        service.close()


def _monitoring(stores: Stores, built: Services) -> MonitoringService:
    store = MonitoringStore(monitoring_root(stores.db.url), config.prediction_log_dir())
    deployments: DeploymentService = built["deployments"]
    service = MonitoringService(store, built["registry"], built["datasets"], deployments)
    deployments.quality_source = service.version_quality  # canary gates on quality
    return service


@contextmanager
def _monitoring_running(service: MonitoringService, _settings: Any) -> Iterator[None]:
    """New prediction-log files become monitoring tables every few seconds, data older than
    the retention is removed hourly, and every deployment is probed for availability."""
    from modelyard.monitoring.probe import probing

    ingest = Every(config.MONITORING_INGEST_INTERVAL.get(), service.ingest, "ingest").start()
    sweep = Every(
        3600.0, lambda: service.sweep(config.MONITORING_RETENTION_DAYS.get()), "sweep"
    ).start()
    compact = Every(3600.0, lambda: service.store.compact(service.clock()), "compact").start()
    try:
        with probing(service.deployments.db, _settings):
            yield
    finally:
        compact.stop()
        sweep.stop()
        ingest.stop()


def _mount_health(app: FastAPI) -> None:
    app.include_router(health.router)


BUILT_IN: tuple[Domain, ...] = (
    Domain("access", _access, (access.router, oidc.router, audit.router), running=_access_running),
    Domain(
        "tracking",
        _tracking,
        (
            experiments.router,
            runs.router,
            artifacts.router,
            artifacts.previews,
            blobs.router,
            traces.router,
            views.router,
        ),
        running=_sweeping,
    ),
    Domain("datasets", _datasets, (datasets.router,)),
    Domain("registry", _registry, (registry.router, logged_models.router)),
    Domain("promotions", _promotions, (promotions.router,)),
    Domain("deployments", _deployments, (deployments.router,), running=_controlling),
    Domain("monitoring", _monitoring, (monitoring.router,), running=_monitoring_running),
    Domain("alerts", _alerts, (alerts.router,), running=_alerting),
    Domain("health", mount=_mount_health),
    Domain("mlflow", mount=mlflow.mount),
)
