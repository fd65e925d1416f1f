"""The image's health check finds the address of the container's first process from its
command line, as /proc/1/cmdline shows it."""

from __future__ import annotations

from pathlib import Path

from alerts.config import DEFAULT_LISTEN_ADDRESS as BRIDGE_DEFAULT
from exporter.config import DEFAULT_LISTEN_ADDRESS as EXPORTER_DEFAULT
from otb_common.healthcheck import DEFAULT_PORTS, main, target

VENV = "/opt/openstack-telemetry-bridge/bin"


def test_the_default_ports_are_the_programs_own() -> None:
    """otb_common imports neither program: its copy of their defaults is checked here."""
    assert DEFAULT_PORTS == {
        "openstack-telemetry-exporter": EXPORTER_DEFAULT,
        "aodh-alertmanager-bridge": BRIDGE_DEFAULT,
    }


def test_a_script_started_through_its_shebang_on_its_default_port() -> None:
    exporter = [f"{VENV}/python3", f"{VENV}/openstack-telemetry-exporter"]
    bridge = [f"{VENV}/python3", f"{VENV}/aodh-alertmanager-bridge", "--state.path", "s.db"]
    assert target(exporter) == ("127.0.0.1", 10198, False)
    assert target(bridge) == ("127.0.0.1", 10199, False)
    assert target(["python3", "-m", "alerts"]) == ("127.0.0.1", 10199, False)


def test_the_listen_address_given_in_either_form() -> None:
    assert target(["openstack-telemetry-exporter", "--web.listen-address=:9100"])[1] == 9100
    given = ["aodh-alertmanager-bridge", "--web.listen-address", "10.0.0.5:9200"]
    assert target(given) == ("10.0.0.5", 9200, False)


def test_https_when_the_web_config_serves_tls(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: a\n  key_file: b\n")
    plain = tmp_path / "plain.yml"
    plain.write_text("basic_auth_users: {}\n")
    assert target(["openstack-telemetry-exporter", f"--web.config.file={web}"])[2] is True
    assert target(["openstack-telemetry-exporter", f"--web.config.file={plain}"])[2] is False


def test_nothing_listening_is_unhealthy() -> None:
    assert main(["openstack-telemetry-exporter", "--web.listen-address=127.0.0.1:9"]) == 1
