"""The exporter-toolkit web configuration file: TLS and basic-auth users with bcrypt hashes.

Same file format as Prometheus' own exporters (``--web.config.file``), so operators can reuse
the file they already have. Security options we cannot honour are refused, never silently
ignored; ``http2`` is accepted and has no effect (this server speaks HTTP/1.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from otb_common.errors import ConfigError

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go accepts a client certificate without verifying it in these modes; Python's ssl module
# always verifies a presented certificate, so they cannot be honoured and are refused.
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
# The response headers exporter-toolkit lets operators set: security headers only, never
# ones the server itself must control (Content-Length, Content-Type, ...).
_SETTABLE_HEADERS = {
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "content-security-policy",
}


@dataclass(frozen=True, slots=True)
class TLSConfig:
    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    max_version: str | None = None


@dataclass(frozen=True, slots=True)
class WebConfig:
    tls: TLSConfig | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        tls = self.tls
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _TLS_VERSIONS[tls.min_version]
        if tls.max_version:
            context.maximum_version = _TLS_VERSIONS[tls.max_version]
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
            if tls.client_ca_file:
                context.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--web.config.file: cannot load TLS files: {exc}") from None
        context.verify_mode = _CLIENT_AUTH[tls.client_auth_type]
        return context


# The stand-in's cost when no configured hash has a readable one (such hashes never match).
DEFAULT_BCRYPT_COST = 10


def _bcrypt_cost(hashed: bytes) -> int | None:
    """The cost of a ``$2b$NN$...`` hash, or None when it has no readable one."""
    parts = hashed.split(b"$")
    if len(parts) < 4 or not parts[2].isdigit():
        return None
    cost = int(parts[2])
    return cost if 4 <= cost <= 31 else None


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes.

    bcrypt is deliberately slow (tens of ms); a scrape every few seconds must not pay that
    each time, so a successful check is remembered by a keyed digest of the credentials.

    Every well-formed attempt costs one bcrypt check, whether the user exists or not: an
    unknown user is checked against a stand-in hash of the highest configured cost, so the
    answer time does not tell which user names exist. User names are compared in constant
    time, all of them every time, and only a known user's success is ever remembered.
    """

    def __init__(self, users: dict[str, bytes]) -> None:
        self._users = [(user.encode(), hashed) for user, hashed in users.items()]
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)  # per process: the cache never leaves memory
        self._stand_in = b""
        if users:
            costs = [c for c in map(_bcrypt_cost, users.values()) if c is not None]
            cost = max(costs, default=DEFAULT_BCRYPT_COST)
            unguessable = secrets.token_bytes(32)
            self._stand_in = bcrypt.hashpw(unguessable, bcrypt.gensalt(cost))

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def _hash_of(self, user: bytes) -> bytes | None:
        """The user's hash; every name is compared, in constant time, whichever matches."""
        found = None
        for name, hashed in self._users:
            if hmac.compare_digest(name, user):
                found = hashed
        return found

    def check(self, header: str | None) -> bool:
        if not self._users:
            return True
        credentials = _credentials(header)
        if credentials is None:  # malformed: says nothing about users, no bcrypt needed
            return False
        decoded, user, password = credentials
        token = hmac.new(self._key, decoded.encode(), hashlib.sha256).digest()
        with self._lock:
            if token in self._verified:  # only ever holds known users' good credentials
                return True
        hashed = self._hash_of(user.encode())
        try:
            ok = bcrypt.checkpw(password.encode(), self._stand_in if hashed is None else hashed)
        except ValueError:  # a malformed configured hash, or a password over 72 bytes
            return False
        if not ok or hashed is None:
            return False
        with self._lock:
            self._verified.add(token)
        return True


def _credentials(header: str | None) -> tuple[str, str, str] | None:
    """(``user:password``, user, password) from a Basic header; None when malformed."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (decoded, user, password) if sep else None


def _mapping(data: object, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--web.config.file: {where}: expected a mapping")
    return data


def _reject_unknown(data: dict[str, Any], known: set[str], where: str) -> None:
    for key in sorted(set(data) - known):
        raise ConfigError(f"--web.config.file: {where}{key}: unknown or unsupported option")


def _tls(data: dict[str, Any], base: Path) -> TLSConfig:
    known = {
        "cert_file",
        "key_file",
        "client_ca_file",
        "client_auth_type",
        "min_version",
        "max_version",
    }
    _reject_unknown(data, known, "tls_server_config.")
    for key in ("cert_file", "key_file"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(f"--web.config.file: tls_server_config.{key}: required")
    auth = str(data.get("client_auth_type", "NoClientCert"))
    if auth in _UNVERIFIED_CLIENT_AUTH:
        raise ConfigError(
            f"--web.config.file: tls_server_config.client_auth_type {auth}: not supported "
            "(client certificates are always verified); use VerifyClientCertIfGiven or "
            "RequireAndVerifyClientCert with client_ca_file"
        )
    if auth not in _CLIENT_AUTH:
        raise ConfigError(
            f"--web.config.file: tls_server_config.client_auth_type {auth!r}: "
            f"expected one of {', '.join(_CLIENT_AUTH)}"
        )
    for key in ("min_version", "max_version"):
        if key in data and data[key] not in _TLS_VERSIONS:
            raise ConfigError(
                f"--web.config.file: tls_server_config.{key} {data[key]!r}: "
                f"expected one of {', '.join(_TLS_VERSIONS)}"
            )
    ca = data.get("client_ca_file")
    if auth != "NoClientCert" and not ca:
        raise ConfigError(
            f"--web.config.file: tls_server_config.client_auth_type {auth} needs client_ca_file"
        )

    def resolve(value: str) -> str:
        return str(base / value)

    return TLSConfig(
        cert_file=resolve(data["cert_file"]),
        key_file=resolve(data["key_file"]),
        client_ca_file=resolve(ca) if ca else None,
        client_auth_type=auth,
        min_version=data.get("min_version", "TLS12"),
        max_version=data.get("max_version"),
    )


def load_web_config(path: str) -> WebConfig:
    """Parse and validate the file; relative paths inside it are relative to the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--web.config.file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError:
        raise ConfigError(f"--web.config.file {path}: not valid YAML") from None
    data = _mapping(raw, "top level")
    _reject_unknown(data, {"tls_server_config", "basic_auth_users", "http_server_config"}, "")
    base = Path(path).resolve().parent
    tls_data = _mapping(data.get("tls_server_config"), "tls_server_config")
    tls = _tls(tls_data, base) if tls_data else None

    users: dict[str, bytes] = {}
    for user, hashed in _mapping(data.get("basic_auth_users"), "basic_auth_users").items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            # Never echo the value: it may be a password pasted by mistake.
            raise ConfigError(f"--web.config.file: basic_auth_users.{user}: expected a bcrypt hash")
        users[str(user)] = hashed.encode()

    http = _mapping(data.get("http_server_config"), "http_server_config")
    _reject_unknown(http, {"headers", "http2"}, "http_server_config.")
    headers = {str(k): str(v) for k, v in _mapping(http.get("headers"), "headers").items()}
    for name, value in headers.items():
        if name.lower() not in _SETTABLE_HEADERS:
            raise ConfigError(
                f"--web.config.file: http_server_config.headers.{name}: not settable "
                f"(allowed: {', '.join(sorted(_SETTABLE_HEADERS))})"
            )
        if "\r" in value or "\n" in value:
            raise ConfigError(f"--web.config.file: http_server_config.headers.{name}: newline")
    web = WebConfig(tls=tls, users=users, headers=headers)
    web.ssl_context()  # unreadable or mismatched certificate files: fail now, in one line
    return web
