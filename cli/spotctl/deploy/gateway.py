"""The gateway as an Ingress, its routes read from the nginx template the gateway itself serves.

No second list of routes: each `location PATH { proxy_pass http://UPSTREAM; }` of the template
becomes an Ingress path, `upstream UPSTREAM { server ${VAR}; }` names the backend through the
gateway's compose environment (`HUB_UPSTREAM: hub:8765` -> Service hub, port 8765). A `location =`
is an Exact path, any other a Prefix. The longest `proxy_read_timeout` becomes ingress-nginx's
timeouts (WebSockets stay open for hours). A `listen ... ssl` gives the Ingress a TLS section.
"""

from __future__ import annotations

import re
from typing import Any

from spotctl.deploy.workloads import COMPONENT, NAME, Rendered
from spotctl.stack.compose import Service

INGRESS_CLASS = "nginx"  # ingress-nginx: the same server as the local gateway
TLS_SECRET = "gateway-tls"
PLACEHOLDER_HOST = "spotctl.local"  # overlays set the real host
_BODY = r"\{((?:[^{}]|\$\{\w+\})*)\}"  # a block without nested blocks; ${VAR} may appear in it
_UPSTREAM = re.compile(r"upstream\s+(\w+)\s*" + _BODY)
_SERVER = re.compile(r"server\s+\$\{(\w+)\}|server\s+([^\s;$]+)")
_LOCATION = re.compile(r"location\s+(=\s*)?(\S+)\s*" + _BODY)
_PROXY_PASS = re.compile(r"proxy_pass\s+https?://(\w+)")
_READ_TIMEOUT = re.compile(r"proxy_(?:read|send)_timeout\s+(\d+)(ms|s|m|h)?\s*;")


def _seconds(amount: str, unit: str | None) -> int:
    return int(int(amount) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[unit])


def routes(template: str, env: dict[str, str]) -> list[tuple[str, str, str, int]]:
    """(path, pathType, service, port) for every proxied location, in template order."""
    backends: dict[str, tuple[str, int]] = {}
    for name, body in _UPSTREAM.findall(template):
        server = _SERVER.search(body)
        if server is None:
            continue
        target = env.get(server.group(1), "") if server.group(1) else server.group(2)
        host, _, port = target.partition(":")
        if host and port.isdigit():
            backends[name] = (host, int(port))
    found = []
    for exact, path, body in _LOCATION.findall(template):
        upstream = _PROXY_PASS.search(body)
        if upstream and upstream.group(1) in backends:
            service, port = backends[upstream.group(1)]
            found.append((path, "Exact" if exact else "Prefix", service, port))
    return found


def render(service: Service, template: str | None) -> Rendered:
    out = Rendered()
    if template is None:
        out.problems.append(f"{service.name}: an ingress needs the gateway's nginx template "
                            "(x-local.template next to the compose file)")
        return out
    paths = routes(template, dict(service.environment))
    if not paths:
        out.problems.append(f"{service.name}: its nginx template proxies no location to an upstream")
        return out
    timeouts = [_seconds(a, u) for a, u in _READ_TIMEOUT.findall(template)]
    annotations = {}
    if timeouts:
        annotations = {"nginx.ingress.kubernetes.io/proxy-read-timeout": str(max(timeouts)),
                       "nginx.ingress.kubernetes.io/proxy-send-timeout": str(max(timeouts))}
    spec: dict[str, Any] = {
        "ingressClassName": INGRESS_CLASS,
        "rules": [{"host": PLACEHOLDER_HOST, "http": {"paths": [
            {"path": path, "pathType": kind, "backend": {"service": {"name": svc, "port": {"number": port}}}}
            for path, kind, svc, port in paths]}}],
    }
    if re.search(r"listen\s+[^;]*\bssl\b", template):
        spec["tls"] = [{"hosts": [PLACEHOLDER_HOST], "secretName": TLS_SECRET}]
    metadata: dict[str, Any] = {"name": service.name, "labels": {NAME: service.name, COMPONENT: "gateway"}}
    if annotations:
        metadata["annotations"] = annotations
    out.objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
                        "spec": spec})
    return out
