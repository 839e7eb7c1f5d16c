"""TLS end to end: `modelyard server --tls-cert --tls-key --auth` in its own process, with a
certificate from a CA this test makes; the SDK and CLI trust it through MODELYARD_CA_BUNDLE and
refuse it, saying so, without."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli.app import app
from modelyard.errors import InvalidInput, ServerUnreachable
from modelyard.listener import free_port
from modelyard.tracking import credentials
from modelyard.tracking.http import pools

ADMIN_PASSWORD = "tls-admin-password"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_pki(folder: Path) -> tuple[Path, Path, Path]:
    """``(CA certificate, server certificate, server key)`` as PEM files; the server's names
    are 127.0.0.1 and localhost."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("modelyard test CA"))
        .issuer_name(_name("modelyard test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem


@dataclass
class TlsServer:
    url: str
    ca: Path


def trusting(server: TlsServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.ca)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    root = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_pki(root)
    port = free_port()
    env = {
        **os.environ,
        "MODELYARD_HOME": str(root / "home"),
        "MODELYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    env.pop("MODELYARD_AUTH", None)
    command = [
        sys.executable, "-m", "modelyard.cli", "server", "--port", str(port), "--auth",
        "--tls-cert", str(cert), "--tls-key", str(key), "--no-supervise",
        "--store", f"sqlite:///{root / 'store.db'}", "--artifacts", str(root / "artifacts"),
    ]  # fmt: skip
    log = (root / "server.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, (root / "server.log").read_text()
            try:
                if (
                    httpx.get(
                        url + "/health", verify=ssl.create_default_context(cafile=ca), timeout=2
                    ).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (root / "server.log").read_text()
            time.sleep(0.2)
        yield TlsServer(url, ca)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def fresh_pools() -> Iterator[None]:
    """Each test builds its clients afresh (a client reads MODELYARD_CA_BUNDLE when made)."""
    pools.close_all()
    yield
    pools.close_all()


def admin_token(server: TlsServer) -> str:
    with httpx.Client(
        base_url=server.url + "/api/v1", verify=trusting(server), auth=("admin", ADMIN_PASSWORD)
    ) as admin:
        made = admin.post("/tokens", json={"name": "tls"})
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


@pytest.mark.usefixtures("fresh_sdk", "fresh_pools")
def test_the_sdk_logs_over_https_when_it_trusts_the_ca(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_TOKEN", admin_token(tls_server))
    monkeypatch.setenv("MODELYARD_CA_BUNDLE", str(tls_server.ca))
    my.set_tracking_uri(tls_server.url)
    with my.start_run("over-tls", experiment="tls", params={"secure": True}) as run:
        run.log_metric("acc", 0.75, step=1)
    logged = my.get_run(run.id)
    assert (logged.params, logged.metrics["acc"].last, logged.user) == (
        {"secure": "True"},
        0.75,
        "admin",
    )


@pytest.mark.usefixtures("fresh_pools")
def test_without_the_ca_the_sdk_refuses_the_server_and_says_why(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODELYARD_TOKEN", admin_token(tls_server))
    monkeypatch.delenv("MODELYARD_CA_BUNDLE", raising=False)
    with my.Client(tls_server.url) as client, pytest.raises(ServerUnreachable) as refused:
        client.list_experiments()
    assert "cannot verify the TLS certificate" in refused.value.message
    assert "MODELYARD_CA_BUNDLE" in refused.value.message
    pools.close_all()
    monkeypatch.setenv("MODELYARD_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(InvalidInput, match=r"MODELYARD_CA_BUNDLE=.*missing\.pem"):
        my.Client(tls_server.url)
    pools.close_all()
    (tmp_path / "junk.pem").write_text("not a certificate")
    monkeypatch.setenv("MODELYARD_CA_BUNDLE", str(tmp_path / "junk.pem"))
    with pytest.raises(InvalidInput, match="not a readable PEM file"):
        my.Client(tls_server.url)


def test_the_session_cookie_is_secure_under_tls(tls_server: TlsServer) -> None:
    with httpx.Client(base_url=tls_server.url + "/api/v1", verify=trusting(tls_server)) as browser:
        answer = browser.post("/auth/login", json={"name": "admin", "password": ADMIN_PASSWORD})
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"secure", "httponly", "samesite", "path", "max-age"} <= attributes
        assert browser.get("/auth/me").json()["via"] == "session"


@pytest.mark.usefixtures("modelyard_home", "fresh_pools")
def test_the_cli_logs_in_over_https(tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    monkeypatch.setenv("MODELYARD_CA_BUNDLE", str(tls_server.ca))
    result = CliRunner().invoke(app, ["login", tls_server.url], input=f"admin\n{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert credentials.stored(tls_server.url) is not None
    result = CliRunner().invoke(app, ["whoami", "-u", tls_server.url])
    assert "admin (admin) via token" in result.output
