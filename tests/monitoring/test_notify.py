"""Alert notifications: the webhook address guard (each attack a test), the JSON and Slack
bodies on a real receiver, bounded answers, and e-mail through a real aiosmtpd server."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelyard.errors import InvalidInput
from modelyard.monitoring import notify
from modelyard.monitoring.notify import DeliveryFailed, Notice, Notifier, check_url
from modelyard.monitoring.rules import AlertRule, Firing

# ---- receivers shared by the alert tests ---------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Hook:
    """A webhook receiver on 127.0.0.1: what it got, and how it answers (``endless``: a body
    that never ends; ``delay``: seconds before answering)."""

    url: str
    port: int
    got: list[Received] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    endless: bool = False
    delay: float = 0.0
    sent_bytes: int = 0


@contextmanager
def webhook() -> Iterator[Hook]:
    """A small http.server on 127.0.0.1 in a thread."""
    hook: Hook

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.arrived.append(time.monotonic())
            hook.got.append(Received(self.path, dict(self.headers.items()), body))
            if hook.delay:
                time.sleep(hook.delay)
            self.send_response(hook.status)
            for k, v in hook.headers.items():
                self.send_header(k, v)
            if hook.endless:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    while hook.sent_bytes < 1 << 30:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        hook.sent_bytes += len(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(hook.body)))
            self.end_headers()
            try:
                self.wfile.write(hook.body)
            except OSError:  # the client gave up (a timeout test)
                self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = int(server.server_address[1])
    hook = Hook(f"http://127.0.0.1:{port}/hook/T0KEN", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- a notice to send ------------------------------------------------------------------------

RULE = AlertRule(
    id=7, name="errors <high> & rising", deployment="churn-api", metric="error_rate",
    window_s=300, op=">", threshold=0.05, for_s=0,
    channels=(), action=None, enabled=True, created_by="alice", created_at=1, updated_at=1,
)  # fmt: skip
FIRING = Firing(3, 7, RULE.name, "churn-api", 1_700_000_000_000, None, 0.2, "firing")
NOTICE = Notice(RULE, FIRING, "firing", 0.2, "http://modelyard.example/monitoring/churn-api")


def fixed(*addresses: str) -> Callable[[str, int], Sequence[str]]:
    """A resolver answering ``addresses`` for every name (names under .test do not resolve)."""
    return lambda _host, _port: list(addresses)


# ---- the address guard: every attack refused ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/x", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://hooks.example.com:70/_x", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("http://user:secret@hooks.example.com/x", "credentials"),
        ("http://user@hooks.example.com/x", "credentials"),
        ("http://127.0.0.1:9/x", "loopback"),
        ("http://127.1.2.3/x", "loopback"),
        ("http://localhost/x", "loopback"),
        ("http://[::1]/x", "loopback"),
        ("http://0.0.0.0/x", "unspecified"),
        ("http://[::]/x", "unspecified"),
        ("http://10.1.2.3/x", "private"),
        ("http://172.16.0.1/x", "private"),
        ("http://192.168.1.1/x", "private"),
        ("http://[fc00::1]/x", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/x", "link-local"),
        ("http://224.0.0.1/x", "multicast"),
        ("http://[ff02::1]/x", "multicast"),
        ("http://240.0.0.1/x", "reserved"),
        ("http://100.64.0.1/x", "not a public address"),  # carrier-grade NAT
        ("http://[::ffff:127.0.0.1]/x", "IPv6 form of 127.0.0.1"),
        ("http://[::ffff:169.254.169.254]/x", "IPv6 form of 169.254.169.254"),
        ("http://[::ffff:10.0.0.1]/x", "IPv6 form of 10.0.0.1"),
        ("http://[2002:7f00:1::]/x", "IPv6 form of 127.0.0.1"),  # 6to4 around loopback
        ("http://2130706433/x", "loopback"),  # 127.0.0.1 as one number
        ("http://0x7f.1/x", "loopback"),  # hex and short forms resolve to loopback too
        ("http://017700000001/x", "loopback"),  # octal
        ("http:///x", "no host"),
    ],
)
def test_webhook_address_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        check_url(url, allow_private=False)
    assert caught.value.details["field"] == "channels"


def test_every_resolved_address_is_checked() -> None:
    """One private address among public ones is enough to refuse the host."""
    with pytest.raises(InvalidInput, match=re.escape("10.0.0.7 (private address)")):
        check_url("https://hooks.example.test/x", allow_private=False,
                  resolver=fixed("93.184.216.34", "10.0.0.7"))  # fmt: skip
    found = check_url("https://hooks.example.test/x", allow_private=False,
                      resolver=fixed("93.184.216.34", "2606:2800:220:1::1"))  # fmt: skip
    assert found.addresses == ("93.184.216.34", "2606:2800:220:1::1")
    assert found.host_header == "hooks.example.test"


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not resolve"):
        check_url("http://no-such-host.invalid/x", allow_private=False)


def test_the_setting_allows_private_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "1")
    assert check_url("http://127.0.0.1:8080/x").addresses == ("127.0.0.1",)
    with pytest.raises(InvalidInput, match="credentials"):  # never with credentials
        check_url("http://a:b@127.0.0.1/x")
    monkeypatch.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "0")
    with pytest.raises(InvalidInput, match="loopback"):
        check_url("http://127.0.0.1:8080/x")


def test_public_addresses_pass() -> None:
    for ip in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"):
        assert notify.refusal(ipaddress.ip_address(ip)) is None


# ---- sending: to the checked address, no redirects, bounded answers -------------------------


@pytest.fixture
def notifier() -> Iterator[Notifier]:
    n = Notifier(allow_private=True, timeout=2.0, backoff=0.01)
    yield n
    n.close()


def test_webhook_gets_one_well_formed_json_body(notifier: Notifier) -> None:
    with webhook() as hook:
        assert notifier.send({"type": "webhook", "url": hook.url}, NOTICE).startswith("HTTP 200")
    (got,) = hook.got
    assert got.path == "/hook/T0KEN"
    assert got.headers["Content-Type"] == "application/json"
    assert got.json() == {
        "rule": "errors <high> & rising", "rule_id": 7, "firing_id": 3,
        "deployment": "churn-api", "metric": "error_rate", "window_s": 300, "value": 0.2,
        "threshold": 0.05, "op": ">", "status": "firing", "started_at": 1_700_000_000_000,
        "ended_at": None, "url": "http://modelyard.example/monitoring/churn-api",
    }  # fmt: skip


def test_slack_body_has_text_and_escaped_blocks(notifier: Notifier) -> None:
    with webhook() as hook:
        notifier.send({"type": "slack", "url": hook.url}, NOTICE)
    body = hook.got[0].json()
    assert body["text"] == (
        "[FIRING] errors &lt;high&gt; &amp; rising on churn-api: "
        "error_rate over 300s is 0.2 (rule: &gt; 0.05)"
    )
    section, context = body["blocks"]
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    text = section["text"]["text"]
    assert "*[FIRING] errors &lt;high&gt; &amp; rising on churn-api*" in text  # no injected links
    assert "error_rate over 300s is 0.2 (rule: &gt; 0.05)" in text
    assert "<http://modelyard.example/monitoring/churn-api|Open the monitoring page>" in text
    assert context["type"] == "context"
    assert "2023-11-14 22:13:20 UTC" in context["elements"][0]["text"]


def test_connects_to_the_checked_address_with_the_host_kept() -> None:
    """DNS rebinding: the name is resolved once; a second answer is never used."""
    answers = [["127.0.0.1"], ["10.255.255.1"]]
    calls: list[str] = []

    def rebinding(host: str, _port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), 2) - 1]

    n = Notifier(allow_private=True, resolver=rebinding, timeout=2.0, attempts=1)
    try:
        with webhook() as hook:
            n.post(f"http://hooks.example.test:{hook.port}/in", {"a": 1})
    finally:
        n.close()
    assert calls == ["hooks.example.test"]
    (got,) = hook.got
    assert got.headers["Host"] == f"hooks.example.test:{hook.port}"
    assert got.json() == {"a": 1}


def test_the_guard_runs_again_when_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule saved while private addresses were allowed sends nothing once they are not."""
    n = Notifier(timeout=2.0, attempts=3, backoff=0.01)  # reads the setting at each send
    try:
        with webhook() as hook:
            monkeypatch.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "1")
            n.check({"type": "webhook", "url": hook.url})
            monkeypatch.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "0")
            with pytest.raises(DeliveryFailed, match="loopback"):
                n.send({"type": "webhook", "url": hook.url}, NOTICE)
    finally:
        n.close()
    assert hook.got == []


def test_redirects_are_not_followed(notifier: Notifier) -> None:
    with webhook() as target, webhook() as hook:
        hook.status = 307
        hook.headers = {"Location": target.url}
        with pytest.raises(DeliveryFailed, match="redirects are not followed"):
            notifier.send({"type": "webhook", "url": hook.url}, NOTICE)
    assert len(hook.got) == 1  # a redirect is not retried either
    assert target.got == []


def test_the_answer_is_read_bounded(notifier: Notifier) -> None:
    with webhook() as hook:
        hook.endless = True
        found = notifier.post(hook.url, {"a": 1})
    assert found.status == 200
    assert len(found.body) == notify.MAX_BODY
    assert hook.sent_bytes < 64 << 20  # the sender stopped long before its 1 GiB


def test_a_server_error_is_retried_a_bounded_number_of_times(notifier: Notifier) -> None:
    with webhook() as hook:
        hook.status = 503
        with pytest.raises(DeliveryFailed, match="HTTP 503"):
            notifier.send({"type": "webhook", "url": hook.url}, NOTICE)
        assert len(hook.got) == notify.ATTEMPTS
        hook.status = 404
        with pytest.raises(DeliveryFailed, match="HTTP 404"):
            notifier.send({"type": "webhook", "url": hook.url}, NOTICE)
        assert len(hook.got) == notify.ATTEMPTS + 1  # a client error is not retried


def test_a_silent_webhook_times_out() -> None:
    n = Notifier(allow_private=True, timeout=0.5, attempts=1)
    try:
        with webhook() as hook:
            hook.delay = 3.0
            started = time.monotonic()
            with pytest.raises(DeliveryFailed, match="ReadTimeout"):
                n.send({"type": "webhook", "url": hook.url}, NOTICE)
            assert time.monotonic() - started < 2.5
    finally:
        n.close()


def test_a_closed_port_fails_cleanly(notifier: Notifier) -> None:
    with pytest.raises(DeliveryFailed, match="could not connect"):
        notifier.send({"type": "webhook", "url": f"http://127.0.0.1:{closed_port()}/"}, NOTICE)


# ---- e-mail through a real SMTP server --------------------------------------------------------


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))  # fmt: skip
    return cert_file, key_file


@contextmanager
def smtp_server(
    tls: ssl.SSLContext | None = None, password: str | None = None
) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1; with ``tls`` it offers STARTTLS, with ``password`` it needs a login."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox(closed_port())

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    def check(
        _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == (password or "").encode()
        if ok:
            box.logins.append(data.login.decode())
        return AuthResult(success=ok)

    options: dict[str, Any] = {}
    if tls is not None:
        options["tls_context"] = tls
    if password is not None:
        options.update(authenticator=check, auth_required=True)
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def smtp_env(monkeypatch: pytest.MonkeyPatch, port: int, *, starttls: bool, user: str = "") -> None:
    monkeypatch.setenv("MODELYARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MODELYARD_SMTP_PORT", str(port))
    monkeypatch.setenv("MODELYARD_SMTP_STARTTLS", "1" if starttls else "0")
    monkeypatch.setenv("MODELYARD_SMTP_USER", user)
    monkeypatch.setenv("MODELYARD_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("MODELYARD_SMTP_FROM", "alerts@modelyard.test")


def test_email_is_delivered(monkeypatch: pytest.MonkeyPatch, notifier: Notifier) -> None:
    with smtp_server() as box:
        smtp_env(monkeypatch, box.port, starttls=False)
        notifier.send({"type": "email", "to": ["ops@example.com", "ml@example.com"]}, NOTICE)
    ((sender, rcpt, raw),) = box.messages
    assert (sender, rcpt) == ("alerts@modelyard.test", ["ops@example.com", "ml@example.com"])
    msg = message_from_bytes(raw)
    assert msg["Subject"] == "[FIRING] errors <high> & rising on churn-api"
    assert msg["To"] == "ops@example.com, ml@example.com"
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode()
    assert "error_rate over 300s is 0.2 (rule: > 0.05)" in text
    assert "http://modelyard.example/monitoring/churn-api" in text


def test_email_with_starttls_and_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    client_tls.check_hostname = False  # the server is reached as 127.0.0.1, the cert says localhost
    n = Notifier(ssl_context=client_tls, attempts=1, timeout=5.0)
    try:
        with smtp_server(server_tls, password="s3cret") as box:
            smtp_env(monkeypatch, box.port, starttls=True, user="alerts")
            n.send({"type": "email", "to": ["ops@example.com"]}, NOTICE)
            assert box.logins == ["alerts"]
            assert len(box.messages) == 1
            # the system's authorities do not know this certificate: refused, nothing sent
            strict = Notifier(attempts=1, timeout=5.0)
            try:
                with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
                    strict.send({"type": "email", "to": ["ops@example.com"]}, NOTICE)
            finally:
                strict.close()
            assert len(box.messages) == 1
    finally:
        n.close()


def test_starttls_required_but_not_offered(
    monkeypatch: pytest.MonkeyPatch, notifier: Notifier
) -> None:
    with smtp_server() as box:
        smtp_env(monkeypatch, box.port, starttls=True)
        with pytest.raises(DeliveryFailed, match="STARTTLS"):
            notifier.send({"type": "email", "to": ["ops@example.com"]}, NOTICE)
    assert box.messages == []


def test_email_channels_need_an_smtp_server(
    monkeypatch: pytest.MonkeyPatch, notifier: Notifier
) -> None:
    monkeypatch.setenv("MODELYARD_SMTP_HOST", "")
    with pytest.raises(InvalidInput, match="MODELYARD_SMTP_HOST"):
        notifier.check({"type": "email", "to": ["ops@example.com"]})
