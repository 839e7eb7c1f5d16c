"""Who makes a request. Every request passes this one dependency; auth plugs in here later."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    authenticated: bool = False


ANONYMOUS = Identity("anonymous")


def identify(request: Request) -> Identity:
    """The caller's identity (anonymous until authentication lands)."""
    identity: Identity = getattr(request.state, "identity", ANONYMOUS)
    request.state.identity = identity
    return identity
