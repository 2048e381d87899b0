"""nginx, N web nodes, the grant worker, the ticker and beat from deploy/, on one machine."""

from __future__ import annotations

import os
import shlex
import ssl
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deploy.processes import RunAs, Service, alive_for, celery_ready, duration, free_port, http_ok
from deploy.templates import nginx_site_values, render, tls_certificate
from deploy.units import (
    DEPLOY,
    INSTALL_ROOT,
    ROOT,
    SYSTEM_PATH,
    localize,
    tool,
    unit_commands,
    unit_environment,
    unit_instance_name,
    unit_read,
)

WEB_UNIT = "firstcome-web@.service"
# Started in this order, stopped in the reverse one.
BACKGROUND_UNITS = ("firstcome-worker.service", "firstcome-ticker.service", "firstcome-beat.service")


@dataclass
class Topology:
    """nginx, N web nodes, the grant worker, the ticker and beat, from deploy/, on this machine.

    `env` is what /etc/firstcome/env holds in production (the stores, secrets, hosts);
    `run_dir` holds logs, the rendered nginx files, the beat schedule and TLS files."""

    run_dir: Path
    env: dict[str, str]
    web_ports: list[int]
    http_port: int
    https_port: int
    conn_per_client: int = 100
    server_name: str = "localhost 127.0.0.1"
    run_as: RunAs = field(default_factory=lambda: RunAs(None))
    services: dict[str, Service] = field(default_factory=dict)
    down: set[int] = field(default_factory=set)

    @classmethod
    def create(cls, run_dir: Path, env: dict[str, str], *, web_nodes: int = 1, **ports) -> Topology:
        run_dir.mkdir(parents=True, exist_ok=True)
        run_dir.chmod(0o755)  # nginx's workers and the app user go through it
        for sub in ("logs", "state"):
            (run_dir / sub).mkdir(exist_ok=True)
        web_ports = ports.pop("web_ports", None) or [free_port() for _ in range(web_nodes)]
        topology = cls(
            run_dir=run_dir,
            env={"BEAT_SCHEDULE": str(run_dir / "state" / "celerybeat-schedule"), **env},
            web_ports=list(web_ports),
            http_port=ports.pop("http_port", None) or free_port(),
            https_port=ports.pop("https_port", None) or free_port(),
            run_as=RunAs.decide("firstcome"),
            **ports,
        )
        topology.run_as.own(run_dir / "state")
        return topology

    # -- addresses
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def tls_ca(self) -> Path:
        """The certificate clients trust (the local CA that issued nginx's certificate)."""
        return self.run_dir / "tls" / "ca.pem"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls_ca))

    # -- units
    def unit_service(self, template: str, *, instance: str | None = None, ready=None) -> Service:
        unit = unit_read(template)
        name = unit_instance_name(template, instance) if instance is not None else template
        (argv,) = unit_commands(unit, env=self.env, instance=instance)
        env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", **self.run_as.environment(), **unit_environment(unit, self.env)}
        return Service(
            name=name,
            argv=[*self.run_as.prefix(), *argv],
            env=env,
            cwd=Path(localize(unit.value("Service", "WorkingDirectory") or INSTALL_ROOT, ROOT)),
            log=self.run_dir / "logs" / f"{name.removesuffix('.service')}.log",
            stop_timeout=duration(unit.value("Service", "TimeoutStopSec"), 90.0),
            kill_mode=unit.value("Service", "KillMode", "control-group"),
            ready=ready,
        )

    def release(self) -> None:
        """firstcome-release.service: every ExecStart in order (migrate, collectstatic)."""
        unit = unit_read("firstcome-release.service")
        env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", **self.run_as.environment(), **unit_environment(unit, self.env)}
        log = self.run_dir / "logs" / "firstcome-release.log"
        static_root = Path(self.env["DJANGO_STATIC_ROOT"])
        static_root.mkdir(parents=True, exist_ok=True)
        self.run_as.own(static_root)
        for argv in unit_commands(unit, env=self.env):
            with log.open("ab") as out:
                result = subprocess.run([*self.run_as.prefix(), *argv], cwd=ROOT, env=env, stdout=out, stderr=out)
            if result.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"release step failed ({shlex.join(argv)}):\n{tail}")

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A management command with the production settings and variables, as the release unit runs one."""
        unit = unit_read("firstcome-release.service")
        env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", **self.run_as.environment(), **unit_environment(unit, self.env)}
        python = str(ROOT / ".venv" / "bin" / "python")
        return subprocess.run(
            [*self.run_as.prefix(), python, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, check=check,
        )  # fmt: skip

    def start_web(self, port: int) -> Service:
        service = self.unit_service(
            WEB_UNIT, instance=str(port), ready=lambda s: http_ok(f"http://127.0.0.1:{port}/healthz")
        )
        self.services[service.name] = service.start()
        return service

    def start_background(self, unit: str) -> Service:
        ready = {
            "firstcome-worker.service": celery_ready(int(self._unit_env(unit).get("GRANT_WORKER_CONCURRENCY", "2"))),
            "firstcome-ticker.service": celery_ready(1),
            "firstcome-beat.service": alive_for(1.0),
        }[unit]
        service = self.unit_service(unit, ready=ready)
        self.services[unit] = service.start()
        return service

    def _unit_env(self, unit: str) -> dict[str, str]:
        return unit_environment(unit_read(unit), self.env)

    def web_service(self, port: int) -> Service:
        return self.services[unit_instance_name(WEB_UNIT, str(port))]

    def stop_unit(self, name: str) -> int | None:
        return self.services[name].stop()

    # -- nginx
    def nginx_render(self) -> Path:
        cert, key = tls_certificate(self.run_dir / "tls")
        values = nginx_site_values(
            web_ports=self.web_ports,
            down=self.down,
            http_listen=f"127.0.0.1:{self.http_port}",
            https_listen=f"127.0.0.1:{self.https_port}",
            https_port_suffix=f":{self.https_port}",
            server_name=self.server_name,
            tls_cert=cert,
            tls_key=key,
            static_root=Path(self.env["DJANGO_STATIC_ROOT"]),
            conn_per_client=self.conn_per_client,
            proxy_cache_dir=self.run_dir / "nginx-cache",
        )
        site = self.run_dir / "nginx-firstcome.conf"
        site.write_text(render(DEPLOY / "nginx" / "firstcome.conf", values))
        main = self.run_dir / "nginx.conf"
        user = "user www-data;" if os.geteuid() == 0 else "# (not root: nginx runs as the user who starts it)"
        main.write_text(
            render(
                DEPLOY / "nginx" / "nginx.conf",
                {"USER_DIRECTIVE": user, "RUN_DIR": str(self.run_dir), "SITE_CONF": str(site)},
            )
        )
        return main

    def nginx_argv(self, *extra: str) -> list[str]:
        nginx = tool("nginx")
        if nginx is None:
            raise RuntimeError("nginx is missing: apt-get install nginx (make prod and make test do it as root)")
        return [nginx, "-e", "stderr", "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"), *extra]

    def start_nginx(self) -> Service:
        self.nginx_render()
        check = subprocess.run(self.nginx_argv("-t", "-q"), capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the rendered configuration:\n{check.stderr}")
        context = self.ssl_context()
        service = Service(
            name="nginx",
            argv=self.nginx_argv("-g", "daemon off;"),
            env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
            cwd=self.run_dir,
            log=self.run_dir / "logs" / "nginx.log",
            stop_timeout=10.0,
            kill_mode="mixed",  # SIGTERM to the master; it stops its workers
            ready=lambda s: http_ok(f"{self.url}/healthz", context=context),
        )
        self.services["nginx"] = service.start()
        return service

    def nginx_reload(self, *, down: Iterable[int] = ()) -> None:
        """Re-render the upstream (nodes in `down` get no new request) and reload gracefully:
        new workers take new requests, old ones finish theirs (worker_shutdown_timeout)."""
        self.down = set(down)
        self.nginx_render()
        result = subprocess.run(self.nginx_argv("-s", "reload"), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"nginx reload failed:\n{result.stderr}")

    def nginx_workers(self) -> list[int]:
        return self.services["nginx"].children()

    # -- all of it
    def start(self, *, background: bool = True) -> Topology:
        """Web nodes, then (unless `background` is off: a web-tier benchmark) worker, ticker and
        beat, then nginx."""
        try:
            for port in self.web_ports:
                self.start_web(port)
            for unit in BACKGROUND_UNITS if background else ():
                self.start_background(unit)
            self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """In the reverse order of their start: nginx first (no new requests), then beat, ticker,
        worker (warm: tasks in hand finish), then the web nodes."""
        for name in reversed(list(self.services)):
            self.services[name].stop()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {name}\n{service.tail(lines)}" for name, service in self.services.items())


def prometheus_config(
    topology: Topology, path: Path, *, token_file: Path, scrape_interval: str = "15s", evaluation_interval: str = "15s"
) -> Path:
    """deploy/prometheus/prometheus.yml for this topology: scraping /metrics through nginx."""
    values = {
        "SCRAPE_INTERVAL": scrape_interval,
        "EVALUATION_INTERVAL": evaluation_interval,
        "DEPLOY_DIR": str(DEPLOY),
        "TARGET": f"127.0.0.1:{topology.https_port}",
        "METRICS_TOKEN_FILE": str(token_file),
        "TLS_CA_FILE": str(topology.tls_ca),
    }
    path.write_text(render(DEPLOY / "prometheus" / "prometheus.yml", values))
    return path


def prometheus_service(topology: Topology, directory: Path, *, port: int, **intervals: str) -> Service:
    """Debian's prometheus against the topology, with deploy/prometheus's rules."""
    prometheus = tool("prometheus")
    if prometheus is None:
        raise RuntimeError("prometheus is missing: apt-get install prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    token_file = directory / "metrics-token"
    token_file.write_text(topology.env["METRICS_TOKEN"])
    token_file.chmod(0o600)
    config = prometheus_config(topology, directory / "prometheus.yml", token_file=token_file, **intervals)
    return Service(
        name="prometheus",
        argv=[prometheus, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
              f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
        cwd=directory,
        log=directory / "prometheus.log",
        stop_timeout=15.0,
        ready=lambda s: http_ok(f"http://127.0.0.1:{port}/-/ready"),
    )  # fmt: skip
