"""The credential of a serving process: its deployment's serving token.

A process sends ``X-Serving-Token`` and ``X-Serving-Deployment`` (the deployment's name,
percent-encoded) with every request. It proves
nothing but that the process serves that deployment: with auth on it may read the deployment
and its registered model (to load the versions the policy names), and never write.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import Request

from modelyard.access.entities import Identity, Kind, Scope
from modelyard.errors import Unauthenticated
from modelyard.serving.deployments import DeploymentService
from modelyard.serving.entities import SERVING_DEPLOYMENT_HEADER as DEPLOYMENT_HEADER


def serving_identity(request: Request, token: str) -> Identity:
    """The identity of a serving process; Unauthenticated unless ``token`` is its deployment's."""
    name = unquote(request.headers.get(DEPLOYMENT_HEADER, ""))
    if not name:
        raise Unauthenticated(f"a serving token comes with {DEPLOYMENT_HEADER} (its deployment)")
    service: DeploymentService = request.app.state.services["deployments"]
    d = service.authenticate_serving(name, token)
    return Identity(
        name=f"serving:{d.name}",
        kind="serving",
        scope=Scope.READ,
        deployment=d.name,
        reads=((Kind.DEPLOYMENT.value, d.name), (Kind.MODEL.value, d.model)),
    )
