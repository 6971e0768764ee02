"""Health probes derived from each service's compose `healthcheck.test`.

Inside a container the test is a shell command (`redis-cli ping`, `pg_isready`, `curl URL`...). On the
host we run the same check natively: `derive()` reads the command and picks the protocol-level probe
that asks the same question; `check()` does the I/O.  No second list of health checks exists.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from spotctl.stack.compose import Service


class ProbeKind(StrEnum):
    redis = "redis"          # PING -> +PONG
    postgres = "postgres"    # SSLRequest -> 'N' or 'S' (the server speaks the protocol)
    amqp = "amqp"            # protocol header -> Connection.Start frame
    kafka = "kafka"          # ApiVersions request -> response with our correlation id
    mongo = "mongo"          # OP_MSG hello via pymongo
    http = "http"            # GET -> 2xx/3xx
    tcp = "tcp"              # connect only (a check we could not map)


@dataclass(frozen=True)
class Probe:
    kind: ProbeKind
    port: int
    host: str = "127.0.0.1"
    path: str = "/"
    tls: bool = False

    def describe(self) -> str:
        scheme = "https" if self.tls else "http"
        where = f"{scheme}://{self.host}:{self.port}{self.path}" if self.kind is ProbeKind.http else \
            f"{self.host}:{self.port}"
        return f"{self.kind.value} {where}"


_TOOLS = {
    "redis-cli": ProbeKind.redis, "pg_isready": ProbeKind.postgres, "rabbitmq-diagnostics": ProbeKind.amqp,
    "kafka-broker-api-versions": ProbeKind.kafka, "mongosh": ProbeKind.mongo, "mongo": ProbeKind.mongo,
}
_DEFAULT_PORT = {ProbeKind.redis: 6379, ProbeKind.postgres: 5432, ProbeKind.amqp: 5672,
                 ProbeKind.kafka: 9092, ProbeKind.mongo: 27017}
_URL = re.compile(r"(https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(\d+))?(/[^\s'\"]*)?")


def derive(service: Service) -> Probe | None:
    """The host-side probe for a service, or None if it has neither health check nor port."""
    if service.healthcheck is None:
        return Probe(ProbeKind.tcp, service.ports[0].host) if service.ports else None
    text = " ".join(service.healthcheck.test[1:] if service.healthcheck.test[0].startswith("CMD")
                    else service.healthcheck.test)
    url = _URL.search(text)
    if url:
        tls = url.group(1) == "https"
        container_port = int(url.group(2) or (443 if tls else 80))
        return Probe(ProbeKind.http, service.host_port(container_port), path=url.group(3) or "/", tls=tls)
    for tool, kind in _TOOLS.items():
        if re.search(rf"(^|[/\s]){re.escape(tool)}", text):
            port_flag = re.search(r"(?:-p|--port|localhost:)\s*(\d+)", text)
            container_port = int(port_flag.group(1)) if port_flag else _DEFAULT_PORT[kind]
            return Probe(kind, service.host_port(container_port))
    return Probe(ProbeKind.tcp, service.ports[0].host) if service.ports else None


#: worker states (in a /health body's "workers") that mean it is not doing its job
NOT_WORKING = ("stalled", "waiting", "failed")


def problems(body: Mapping[str, Any]) -> list[str]:
    """What a sandbox service's /health body says is wrong, one short item each: the dependencies
    it names as degraded (with their error) and workers that are stalled, waiting or failed."""
    if body.get("status") in (None, "ok", "starting", "stopping"):
        return []
    deps = body.get("dependencies")
    found = []
    for name in body.get("degraded") or []:
        dep = deps.get(name) if isinstance(deps, dict) else None
        error = dep.get("error") if isinstance(dep, dict) else None
        found.append(f"{name} ({error})" if error else str(name))
    workers = body.get("workers")
    for name, worker in (workers.items() if isinstance(workers, dict) else ()):
        if isinstance(worker, dict) and worker.get("state") in NOT_WORKING:
            found.append(f"{name}: {worker['state']}")
    return found or [str(body.get("status"))]


#: a sandbox /health asks each store within 1.5 s (spotctl_sandbox.common.health): wait longer than that
HEALTH_BODY_TIMEOUT_S = 4.0


def check_with_body(probe: Probe, timeout: float = HEALTH_BODY_TIMEOUT_S) -> tuple[bool, str, dict[str, Any] | None]:
    """One GET of an HTTP health check: (healthy by status code, detail, its JSON body or None)."""
    import json
    import urllib.error
    import urllib.request

    url = f"http://{probe.host}:{probe.port}{probe.path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:  # a 503 still says why
        status, raw = exc.code, exc.read()
    except OSError as exc:
        return False, f"{probe.describe()}: {getattr(exc, 'reason', None) or exc}", None
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = None
    return 200 <= status < 400, f"GET {probe.path} -> {status}", body if isinstance(body, dict) else None


def health_body(probe: Probe, timeout: float = HEALTH_BODY_TIMEOUT_S) -> dict[str, Any] | None:
    """The JSON an HTTP health check answered (whatever its status code), or None."""
    if probe.kind is not ProbeKind.http or probe.tls:
        return None
    return check_with_body(probe, timeout)[2]


def check(probe: Probe, timeout: float = 2.0) -> tuple[bool, str]:
    """Run the probe once: (healthy, one-line detail)."""
    try:
        if probe.kind is ProbeKind.http:
            return _http(probe, timeout)
        if probe.kind is ProbeKind.mongo:
            return _mongo(probe, timeout)
        with socket.create_connection((probe.host, probe.port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return _CHECKS[probe.kind](sock)
    except OSError as exc:
        return False, f"{probe.describe()}: {exc.strerror or exc}"


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _redis(sock: socket.socket) -> tuple[bool, str]:
    sock.sendall(b"PING\r\n")
    reply = sock.recv(64)
    if reply.startswith(b"+PONG"):
        return True, "PONG"
    return False, f"PING answered {reply[:40]!r}"


def _postgres(sock: socket.socket) -> tuple[bool, str]:
    """What pg_isready asks: does a startup packet get past 'the database system is starting up'?"""
    params = b"user\x00pg_isready\x00database\x00postgres\x00\x00"
    sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)  # protocol 3.0
    kind = sock.recv(1)
    if kind == b"R":
        return True, "accepting connections"
    if kind == b"E":
        (length,) = struct.unpack("!i", _recv(sock, 4))
        fields = dict((f[:1], f[1:].decode(errors="replace")) for f in _recv(sock, length - 4).split(b"\x00") if f)
        if fields.get(b"C") in ("57P03", "53300"):  # cannot_connect_now, too_many_connections
            return False, fields.get(b"M", "not accepting connections yet")
        return True, "accepting connections"  # e.g. no such role: the server itself is up
    return False, f"answered {kind!r}"


def _amqp(sock: socket.socket) -> tuple[bool, str]:
    sock.sendall(b"AMQP\x00\x00\x09\x01")
    frame = _recv(sock, 11)
    # method frame (type 1) on channel 0, class 10 (connection) method 10 (start)
    if len(frame) == 11 and frame[0] == 1 and frame[7:11] == b"\x00\x0a\x00\x0a":
        return True, "Connection.Start received"
    return False, f"no Connection.Start ({frame[:11]!r})"


def _kafka(sock: socket.socket) -> tuple[bool, str]:
    client = b"spotctl"
    body = struct.pack("!hhih", 18, 0, 7, len(client)) + client  # ApiVersions v0, correlation id 7
    sock.sendall(struct.pack("!i", len(body)) + body)
    header = _recv(sock, 10)
    if len(header) == 10:
        _, correlation, error = struct.unpack("!iih", header)
        if correlation == 7 and error == 0:
            return True, "ApiVersions ok"
        return False, f"ApiVersions error {error}"
    return False, "no ApiVersions response"


def _tcp(sock: socket.socket) -> tuple[bool, str]:
    return True, "port open"


_CHECKS = {ProbeKind.redis: _redis, ProbeKind.postgres: _postgres, ProbeKind.amqp: _amqp,
           ProbeKind.kafka: _kafka, ProbeKind.tcp: _tcp}


def _http(probe: Probe, timeout: float) -> tuple[bool, str]:
    import http.client
    import ssl

    conn: http.client.HTTPConnection
    if probe.tls:
        conn = http.client.HTTPSConnection(probe.host, probe.port, timeout=timeout,
                                           context=ssl._create_unverified_context())  # self-signed, local
    else:
        conn = http.client.HTTPConnection(probe.host, probe.port, timeout=timeout)
    try:
        conn.request("GET", probe.path)
        status = conn.getresponse().status
    finally:
        conn.close()
    return (200 <= status < 400), f"GET {probe.path} -> {status}"


def _mongo(probe: Probe, timeout: float) -> tuple[bool, str]:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(
        probe.host, probe.port, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        client.admin.command("ping")
        return True, "ping ok"
    except PyMongoError as exc:
        return False, f"{probe.describe()}: {exc.__class__.__name__}"
    finally:
        client.close()
