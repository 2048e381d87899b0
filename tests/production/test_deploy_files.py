"""deploy/ checked by the tools that run it: systemd-analyze, nginx -t, promtool."""

import re
import subprocess
import sys

import pytest

from deploy import templates, units
from tests.production.conftest import require_tool

pytestmark = [pytest.mark.production]


def example_env() -> dict[str, str]:
    """The variables deploy/env.example sets (what /etc/firstcome/env holds)."""
    env = {}
    for line in (units.DEPLOY / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    systemd_analyze = require_tool("systemd-analyze", "systemd")
    # the units name /srv/firstcome; verify checks that ExecStart's binary exists, so the
    # copies name this checkout (the only difference)
    rendered = units.units_rendered(tmp_path, root=units.ROOT)
    assert {unit.name for unit in rendered} >= {
        "firstcome-web@.service",
        "firstcome-worker.service",
        "firstcome-ticker.service",
        "firstcome-beat.service",
        "firstcome-release.service",
        "firstcome.target",
    }
    result = subprocess.run(
        [systemd_analyze, "verify", "--man=no", *map(str, rendered)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stderr


def test_every_unit_runs_with_the_documented_variables():
    """deploy/env.example names everything the command lines need; nothing is left unexpanded."""
    env = example_env()
    for path in sorted(units.UNITS.glob("*.service")):
        unit = units.unit_read(path.name)
        instance = "8001" if "@" in path.name else None
        commands = units.unit_commands(unit, env=env, instance=instance)
        assert commands, path.name
        for argv in commands:
            assert argv[0].startswith(str(units.ROOT / ".venv" / "bin")), argv
            assert not any("$" in word or "%" in word.replace("@%h", "") for word in argv), argv
        assert unit.value("Service", "User") == "firstcome", path.name
        assert unit.value("Service", "EnvironmentFile") == "/etc/firstcome/env", path.name


def test_the_site_file_rendered_for_a_server_passes_nginx_t(tmp_path):
    require_tool("nginx", "nginx")
    # given: the site file as docs/deploy.md renders it for a server (ports 80 and 443)
    site = subprocess.run(
        [sys.executable, "-m", "deploy.local", "render-nginx", "--server-name", "drops.example.com",
         "--tls-cert", "/etc/ssl/firstcome/cert.pem", "--tls-key", "/etc/ssl/firstcome/key.pem",
         "--deploy-dir", str(units.DEPLOY), "--proxy-cache-dir", str(tmp_path / "cache")],
        cwd=units.ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "listen 443 ssl http2;" in site and "server 127.0.0.1:8002;" in site
    assert "return 301 https://$host$request_uri;" in site
    # nginx -t reads the certificate: use a real pair at the paths the test gives
    cert, key = templates.tls_certificate(tmp_path / "tls")
    site = site.replace("/etc/ssl/firstcome/cert.pem", str(cert)).replace("/etc/ssl/firstcome/key.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    main = templates.render(
        units.DEPLOY / "nginx" / "nginx.conf",
        {"USER_DIRECTIVE": "", "RUN_DIR": str(tmp_path), "SITE_CONF": str(tmp_path / "site.conf")},
    )
    (tmp_path / "nginx.conf").write_text(main)

    # then
    result = subprocess.run(
        [units.tool("nginx"), "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_prometheus_rules_pass_promtool_check_and_their_unit_tests(tmp_path):
    promtool = require_tool("promtool", "prometheus")
    rules = units.DEPLOY / "prometheus"
    check = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=rules, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([promtool, "test", "rules", "rules.test.yml"], cwd=rules, capture_output=True, text=True)
    assert unit.returncode == 0, unit.stdout + unit.stderr
    # the rules cover the alerts docs/operations.md recommends
    alerts = set(re.findall(r"- alert: (\w+)", (rules / "rules.yml").read_text()))
    operations = (units.ROOT / "docs" / "operations.md").read_text()
    assert alerts and all(alert in operations for alert in alerts), alerts


def test_the_prometheus_configuration_passes_promtool(tmp_path):
    promtool = require_tool("promtool", "prometheus")
    token = tmp_path / "token"
    token.write_text("t")
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    config = templates.render(
        units.DEPLOY / "prometheus" / "prometheus.yml",
        {"SCRAPE_INTERVAL": "15s", "EVALUATION_INTERVAL": "15s", "DEPLOY_DIR": str(units.DEPLOY),
         "TARGET": "drops.example.com", "METRICS_TOKEN_FILE": str(token), "TLS_CA_FILE": str(ca)},
    )  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(config)
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
