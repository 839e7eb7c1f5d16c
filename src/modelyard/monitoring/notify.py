"""Alert notifications: a generic JSON webhook, a Slack-compatible webhook, SMTP e-mail.

A webhook address is checked when a rule is saved and again before every send
(``check_url``): http or https only, no credentials in it, and its host is resolved once and
every address checked (no loopback, private, link-local, multicast, reserved, unspecified or
IPv4-mapped private address) unless MODELYARD_ALERT_ALLOW_PRIVATE is on. The request then goes
to the checked address itself, with the Host header and TLS server name of the URL, so a DNS
answer that changes between the check and the connection (rebinding) reaches nothing new.
Redirects are not followed, and at most ``MAX_BODY`` bytes of an answer are read.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from modelyard import config
from modelyard.errors import InvalidInput
from modelyard.monitoring.rules import AlertRule, Firing

MAX_BODY = 64 << 10  # bytes of a webhook's answer read (the rest is dropped)
TIMEOUT_S = 5.0
ATTEMPTS = 3
BACKOFF_S = 0.25  # waits 0.25 s, then 0.5 s between attempts
USER_AGENT = "modelyard-alerts"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


class DeliveryFailed(Exception):
    """A notification could not be delivered (kept as a ``failed`` event of the firing; never
    an answer of the API, so not in the error tree)."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (one DNS lookup)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(
            f"webhook host {host!r} does not resolve: {exc}", field="channels"
        ) from exc
    out: list[str] = []
    for *_, sockaddr in found:
        ip = str(sockaddr[0]).split("%", 1)[0]  # an IPv6 scope id is not part of the address
        if ip not in out:
            out.append(ip)
    return out


def refusal(ip: Address) -> str | None:
    """Why a webhook may not reach ``ip`` (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if mapped is not None:
            inner = refusal(mapped)
            return None if inner is None else f"an IPv6 form of {mapped}, {inner}"
    for flag, why in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (not ip.is_global, "not a public address"),
    ):
        if flag:
            return f"{why} address"
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook address: where to connect, and what the request must say it is."""

    url: httpx.URL
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = self.url.host
        if ":" in host:
            host = f"[{host}]"
        default = {"http": 80, "https": 443}[self.url.scheme]
        return host if self.url.port in (None, default) else f"{host}:{self.url.port}"


def check_url(
    url: str, *, allow_private: bool | None = None, resolver: Resolver = resolve
) -> Target:
    """The webhook ``url`` checked (InvalidInput, ``details.field="channels"``, says why not)."""
    allow = config.ALERT_ALLOW_PRIVATE.get() if allow_private is None else allow_private
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidInput(f"webhook url {url!r} does not parse: {exc}", field="channels") from exc
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput(
            f"webhook url must be http or https, not {parsed.scheme or 'none'!r}", field="channels"
        )
    if parsed.userinfo or "@" in parsed.netloc.decode("ascii", "replace"):
        raise InvalidInput(
            "webhook url must not hold credentials (user:password@)", field="channels"
        )
    try:
        host = parsed.host
    except UnicodeError as exc:  # an internationalised name IDNA refuses
        raise InvalidInput(f"webhook url {url!r} has a bad host name", field="channels") from exc
    if not host:
        raise InvalidInput(f"webhook url {url!r} names no host", field="channels")
    if parsed.fragment:
        parsed = parsed.copy_with(fragment=None)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = tuple(resolver(parsed.host, port))
    if not addresses:
        raise InvalidInput(f"webhook host {parsed.host!r} has no address", field="channels")
    if not allow:
        for text in addresses:
            try:
                ip = ipaddress.ip_address(text)
            except ValueError as exc:
                raise InvalidInput(
                    f"webhook host {parsed.host!r} resolved to {text!r}, not an address",
                    field="channels",
                ) from exc
            why = refusal(ip)
            if why is not None:
                raise InvalidInput(
                    f"webhook host {parsed.host!r} resolves to {ip} ({why}): not allowed "
                    "(MODELYARD_ALERT_ALLOW_PRIVATE lets a server reach such addresses)",
                    field="channels",
                    address=str(ip),
                )
    return Target(parsed, addresses)


# ---- what a notification says ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification: a rule's firing began (``firing``) or ended (``resolved``)."""

    rule: AlertRule
    firing: Firing
    status: str  # "firing" or "resolved"
    value: float | None
    link: str | None  # the deployment's monitoring page in the web UI

    @property
    def title(self) -> str:
        mark = "FIRING" if self.status == "firing" else "RESOLVED"
        return f"[{mark}] {self.rule.name} on {self.rule.deployment}"

    @property
    def summary(self) -> str:
        r = self.rule
        shown = "no data" if self.value is None else f"{self.value:.6g}"
        return f"{r.metric} over {r.window_s}s is {shown} (rule: {r.op} {r.threshold:g})"


def webhook_json(n: Notice) -> dict[str, Any]:
    """The generic JSON body."""
    return {
        "rule": n.rule.name,
        "rule_id": n.rule.id,
        "firing_id": n.firing.id,
        "deployment": n.rule.deployment,
        "metric": n.rule.metric,
        "window_s": n.rule.window_s,
        "value": n.value,
        "threshold": n.rule.threshold,
        "op": n.rule.op,
        "status": n.status,
        "started_at": n.firing.started_at,
        "ended_at": n.firing.ended_at,
        "url": n.link,
    }


def _mrkdwn(text: str) -> str:
    """Text safe inside Slack mrkdwn (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_json(n: Notice) -> dict[str, Any]:
    """A Slack-compatible body (incoming webhooks, Mattermost, Rocket.Chat): text and blocks."""
    text = _mrkdwn(f"{n.title}: {n.summary}")
    lines = f"*{_mrkdwn(n.title)}*\n{_mrkdwn(n.summary)}"
    if n.link:
        lines += f"\n<{_mrkdwn(n.link)}|Open the monitoring page>"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(n.firing.started_at / 1000))
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": lines}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"started {started} · modelyard"}],
            },
        ],
    }


def email_message(n: Notice, to: Sequence[str], sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    body = [n.summary, ""]
    body.append(f"deployment: {n.rule.deployment}")
    body.append(
        f"started: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(n.firing.started_at / 1000))}"
    )
    if n.link:
        body.append(f"page: {n.link}")
    msg.set_content("\n".join(body) + "\n")
    return msg


# ---- sending -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook's answer: status and the first ``MAX_BODY`` bytes at most."""

    status: int
    body: bytes
    address: str


class Notifier:
    """Sends notifications; safe to share between threads.

    ``allow_private`` None reads MODELYARD_ALERT_ALLOW_PRIVATE at each check; SMTP settings are
    read at each send. ``ssl_context`` is for the SMTP STARTTLS upgrade (default: the system's
    trusted authorities).
    """

    def __init__(
        self,
        *,
        timeout: float = TIMEOUT_S,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF_S,
        allow_private: bool | None = None,
        resolver: Resolver = resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.allow_private = allow_private
        self.resolver = resolver
        self.ssl_context = ssl_context
        # no proxies from the environment: a proxy would connect where the check never looked
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._http.close()

    def check(self, channel: Mapping[str, Any]) -> None:
        """Refuse a channel this server would not send to (InvalidInput, field "channels")."""
        if channel["type"] in ("webhook", "slack"):
            check_url(channel["url"], allow_private=self.allow_private, resolver=self.resolver)
        elif channel["type"] == "email" and not config.SMTP_HOST.get():
            raise InvalidInput(
                "e-mail channels need an SMTP server (MODELYARD_SMTP_HOST is not set)",
                field="channels",
            )

    def send(self, channel: Mapping[str, Any], notice: Notice) -> str:
        """Deliver ``notice`` on ``channel``, retrying a failure that may pass; a short account
        of the delivery, or DeliveryFailed."""
        for attempt in range(self.attempts):
            try:
                return self._send_once(channel, notice)
            except DeliveryFailed as exc:
                if not exc.retry or attempt + 1 == self.attempts:
                    raise
            time.sleep(self.backoff * (2**attempt))
        raise AssertionError("unreachable")

    def _send_once(self, channel: Mapping[str, Any], notice: Notice) -> str:
        kind = channel["type"]
        if kind == "email":
            self.mail(channel["to"], notice)
            return f"mailed {len(channel['to'])} recipient(s)"
        body = slack_json(notice) if kind == "slack" else webhook_json(notice)
        found = self.post(channel["url"], body)
        return f"HTTP {found.status} from {found.address}"

    def post(self, url: str, body: Mapping[str, Any]) -> Delivery:
        """POST ``body`` as JSON to the checked ``url``, at its checked address."""
        try:
            target = check_url(url, allow_private=self.allow_private, resolver=self.resolver)
        except InvalidInput as exc:
            raise DeliveryFailed(exc.message, retry=False) from exc
        last: Exception | None = None
        for address in target.addresses:
            try:
                return self._post_to(target, address, body)
            except httpx.ConnectError as exc:  # the next address may answer
                last = exc
            except httpx.HTTPError as exc:
                raise DeliveryFailed(f"{type(exc).__name__}: {exc or 'no answer'}") from exc
        raise DeliveryFailed(f"could not connect to {target.url.host}: {last}") from last

    def _post_to(self, target: Target, address: str, body: Mapping[str, Any]) -> Delivery:
        url = target.url.copy_with(host=address)
        extensions = {"sni_hostname": target.url.host} if target.url.scheme == "https" else {}
        deadline = time.monotonic() + self.timeout
        request = self._http.build_request(
            "POST",
            url,
            json=dict(body),
            headers={"Host": target.host_header},
            extensions=extensions,
        )
        answer = self._http.send(request, stream=True)
        kept = bytearray()
        try:
            for chunk in answer.iter_raw():
                kept += chunk
                if len(kept) >= MAX_BODY or time.monotonic() > deadline:
                    break
        finally:
            answer.close()
        found = Delivery(answer.status_code, bytes(kept[:MAX_BODY]), address)
        if 300 <= answer.status_code < 400:
            where = answer.headers.get("location", "")
            raise DeliveryFailed(
                f"HTTP {found.status}: redirects are not followed ({where})", retry=False
            )
        if answer.status_code >= 500 or answer.status_code == 429:
            raise DeliveryFailed(f"HTTP {found.status} from the webhook")
        if answer.status_code >= 400:
            raise DeliveryFailed(f"HTTP {found.status} from the webhook", retry=False)
        return found

    def mail(self, to: Sequence[str], notice: Notice) -> None:
        host = config.SMTP_HOST.get()
        if not host:
            raise DeliveryFailed("no SMTP server (MODELYARD_SMTP_HOST is not set)", retry=False)
        msg = email_message(notice, to, config.SMTP_FROM.get())
        try:
            with smtplib.SMTP(host, config.SMTP_PORT.get(), timeout=self.timeout) as smtp:
                smtp.ehlo()
                if config.SMTP_STARTTLS.get():
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                    smtp.ehlo()
                user = config.SMTP_USER.get()
                if user:
                    smtp.login(user, config.SMTP_PASSWORD.get())
                refused = smtp.send_message(
                    msg, from_addr=config.SMTP_FROM.get(), to_addrs=list(to)
                )
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryFailed(f"SMTP server: {exc}", retry=False) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(f"SMTP login refused: {exc.smtp_code}", retry=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise DeliveryFailed(f"SMTP server refused {', '.join(sorted(refused))}", retry=False)
