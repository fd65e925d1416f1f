"""RabbitMQ from Debian, every listener on loopback: AMQP, Erlang distribution and epmd.

epmd is started here as its own process (RabbitMQ would otherwise start a daemonised one
that escapes our process tracking and listens on every interface).
"""

from __future__ import annotations

import os
import socket

from testbed.bed import Bed, ServiceError

REQUIRES: tuple[str, ...] = ()
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = "/usr/bin/epmd"
USER = "testbed"
LOOPBACK_ERL = "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"


def start(bed: Bed) -> None:
    for binary in (SERVER, EPMD):
        if not os.access(binary, os.X_OK):
            raise ServiceError("rabbitmq", f"{binary} missing (Debian package rabbitmq-server)")
    base = bed.service_dir("rabbitmq")
    password = bed.secret("rabbitmq", "testbed-rabbit")
    amqp, dist, epmd_port = bed.port("rabbitmq"), bed.port("rabbitmq-dist"), bed.port("epmd")
    epmd = bed.spawn("rabbitmq", "epmd", [EPMD, "-address", "127.0.0.1", "-port", str(epmd_port)])
    bed.wait_tcp(epmd, epmd_port, timeout=10)
    conf = base / "rabbitmq.conf"
    conf.write_text(
        f"listeners.tcp.1 = 127.0.0.1:{amqp}\n"
        "loopback_users = none\n"
        f"default_user = {USER}\n"
        f"default_pass = {password}\n"
        "log.console = true\n"
        "log.console.level = warning\n"
        "log.file = false\n"
    )
    (base / "enabled_plugins").write_text("[].\n")
    cookie = base / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text("testbedcookie")
        cookie.chmod(0o400)
    env = {
        "HOME": str(base),
        "RABBITMQ_NODENAME": "rabbit@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_CONFIG_FILE": str(conf.with_suffix("")),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": LOOPBACK_ERL,
        "RABBITMQ_CTL_ERL_ARGS": LOOPBACK_ERL,
        "RABBITMQ_LOGS": "-",
    }
    proc = bed.spawn("rabbitmq", "rabbitmq", [SERVER], env=env)
    bed.wait(proc, f"AMQP on 127.0.0.1:{amqp}", lambda: _amqp_greets(amqp), timeout=90)
    bed.record(
        "rabbitmq",
        {
            "port": amqp,
            "url": f"amqp://127.0.0.1:{amqp}",
            "user": USER,
            "password": password,
            "transport_url": f"rabbit://{USER}:{password}@127.0.0.1:{amqp}/",
        },
    )


def _amqp_greets(port: int) -> bool:
    """The broker answers an AMQP 0-9-1 protocol header with its Connection.Start frame."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        return sock.recv(8)[:1] == b"\x01"


def transport_url(bed: Bed) -> str:
    url: str = bed.info("rabbitmq")["transport_url"]
    return url


def healthy(bed: Bed) -> bool:
    try:
        return _amqp_greets(int(bed.info("rabbitmq")["port"]))
    except OSError:
        return False
