"""A self-signed certificate for the gateway, made once per state dir (both runtimes mount it)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path


def ensure(certs_dir: Path) -> tuple[Path, Path]:
    crt, key = certs_dir / "gateway.crt", certs_dir / "gateway.key"
    if crt.is_file() and key.is_file():
        return crt, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    certs_dir.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "spotctl sandbox")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key.chmod(0o644)  # nginx workers (nobody) read it; the sandbox key guards nothing of value
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return crt, key
