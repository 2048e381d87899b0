"""Runs deploy/ on one machine as production runs it: `make prod` and tests/production.

The command lines come from the systemd units in deploy/systemd (deploy/units.py
expands them as systemd does), the proxy from deploy/nginx rendered with this
machine's ports and paths (deploy/templates.py), so what the tests start is what
the units start (deploy/topology.py). Locally the checkout stands in for
/srv/firstcome and a dict of variables for /etc/firstcome/env; as root, every
unit runs as its User= (created when missing), as systemd would.

    python -m deploy.local up [--web-nodes N]     what `make prod` runs
    python -m deploy.local render-nginx ...       the site file for a real server
    python -m deploy.local app-user               how scripts/run.sh drops root (make run)
"""

import argparse
import os
import pwd
import secrets
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from deploy.processes import RunAs, Service
from deploy.templates import PROXY_CACHE_DIR, nginx_site_values, render
from deploy.topology import Topology, prometheus_service
from deploy.units import DEPLOY, INSTALL_ROOT, ROOT, tool


def _secret(path: Path, make: Callable[[], str]) -> str:
    if not path.exists() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def _env_file(path: Path, env: dict[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(env.items())))
    path.chmod(0o600)


def _supervise(topology: Topology, extra: list[Service], stop: list[bool]) -> None:
    """Restart a unit that exits, as Restart=always does, until asked to stop."""
    while not stop[0]:
        for service in [*topology.services.values(), *extra]:
            if not stop[0] and service.popen is not None and service.popen.poll() is not None:
                code = service.popen.returncode
                print(f"  {service.name} exited (code {code}); starting it again, as systemd would", flush=True)
                time.sleep(1)
                service.restarts += 1
                try:
                    service.start()
                except RuntimeError as exc:
                    print(f"  {service.name} did not start again: {exc}", flush=True)
        time.sleep(0.5)


def command_up(args: argparse.Namespace) -> int:
    run_dir = ROOT / ".run" / "prod"
    run = ROOT / ".run"
    for required in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(required):
            print(f"error: {required} is not set (scripts/prod.sh loads .run/services.env)", file=sys.stderr)
            return 2
    env = {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SECRET_KEY": _secret(run / "secret-key", lambda: secrets.token_urlsafe(50)),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DJANGO_STATIC_ROOT": str(run_dir / "static"),
        # nginx reaches the web nodes from this machine: its X-Forwarded-For names the client.
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "METRICS_TOKEN": _secret(run_dir / "metrics-token", lambda: secrets.token_urlsafe(32)),
    }
    for optional in ("CELERY_BROKER_URL", "REDIS_CLUSTER", "REDIS_KEY_PREFIX", "WEB_CONCURRENCY", "WEB_THREADS"):
        if os.environ.get(optional):
            env[optional] = os.environ[optional]
    admin_password = _secret(run / "admin-password", lambda: secrets.token_urlsafe(12))
    topology = Topology.create(
        run_dir,
        env,
        web_ports=[args.first_web_port + i for i in range(args.web_nodes)],
        http_port=args.http_port,
        https_port=args.https_port,
    )
    _env_file(run_dir / "env", topology.env)
    if topology.run_as.note:
        print(f"note: {topology.run_as.note}")
    print("== release: migrate and collectstatic (deploy/systemd/firstcome-release.service)", flush=True)
    topology.release()
    print("== demo data (local only: production has none)", flush=True)
    topology.manage("seed_demo", "--admin-password", admin_password, "--no-progress")
    topology.manage("rebuild_rankings", "--no-progress")
    print(f"== starting {len(topology.web_ports)} web node(s), worker, ticker, beat and nginx", flush=True)
    extra: list[Service] = []
    topology.start()
    prometheus_port = None
    if tool("prometheus") and not args.no_prometheus:
        prometheus_port = args.prometheus_port
        extra.append(prometheus_service(topology, run_dir / "prometheus", port=prometheus_port).start())
    stop = [False]

    def request_stop(signum, frame):
        stop[0] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    url = f"https://localhost:{topology.https_port}"
    nodes = ", ".join(f"127.0.0.1:{port}" for port in topology.web_ports)
    as_user = topology.run_as.user.pw_name if topology.run_as.user else pwd.getpwuid(os.geteuid()).pw_name
    print(
        f"""
  firstcome runs as in production (Ctrl-C stops everything)
  ----------------------------------------------------------------
  site        {url}/   (certificate of a local CA: .run/prod/tls/ca.pem)
  admin       {url}/admin/     user: admin   password: {admin_password}
  plain HTTP  http://localhost:{topology.http_port}/ redirects to HTTPS; /healthz answers there too
  web nodes   {nodes} (granian, behind nginx)
  processes   web nodes, worker, ticker, beat as user {as_user} (deploy/systemd)
  metrics     {url}/metrics with the bearer token in .run/prod/metrics-token"""
        + (f"\n  prometheus  http://127.0.0.1:{prometheus_port}/alerts" if prometheus_port else "")
        + """
  logs        .run/prod/logs/ (JSON lines), nginx access log .run/prod/nginx-access.log
  ----------------------------------------------------------------
""",
        flush=True,
    )
    try:
        _supervise(topology, extra, stop)
    finally:
        print("stopping: nginx, beat, ticker, worker (warm: tasks in hand finish), web nodes", flush=True)
        for service in extra:
            service.stop()
        topology.stop()
    print("firstcome stopped.")
    return 0


def _port_suffix(listen: str) -> str:
    """What follows the host in a redirect to the HTTPS server: nothing for 443."""
    port = listen.rsplit(":", 1)[-1]
    return "" if port == "443" else f":{port}"


def command_render_nginx(args: argparse.Namespace) -> int:
    values = nginx_site_values(
        web_ports=[int(port) for port in args.web_ports.split(",")],
        http_listen=args.http_listen,
        https_listen=args.https_listen,
        https_port_suffix=_port_suffix(args.https_listen),
        server_name=args.server_name,
        tls_cert=Path(args.tls_cert),
        tls_key=Path(args.tls_key),
        static_root=Path(args.static_root),
        conn_per_client=args.conn_per_client,
        proxy_cache_dir=Path(args.proxy_cache_dir),
        deploy_dir=Path(args.deploy_dir),
    )
    sys.stdout.write(render(DEPLOY / "nginx" / "firstcome.conf", values))
    return 0


def command_app_user(args: argparse.Namespace) -> int:
    """For scripts/run.sh (make run): the command prefix that runs a process as the unprivileged
    user (empty when we are not root, or when that user cannot run the checkout), after giving it
    the directories it writes. Notes go to stderr."""
    run_as = RunAs.decide(args.user)
    if run_as.note:
        print(f"note: {run_as.note}", file=sys.stderr)
    for directory in args.own:
        Path(directory).mkdir(parents=True, exist_ok=True)
        run_as.own(Path(directory))
    print(shlex.join(run_as.prefix()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the production topology here (make prod)")
    up.add_argument("--web-nodes", type=int, default=int(os.environ.get("WEB_NODES", "2")))
    up.add_argument("--first-web-port", type=int, default=int(os.environ.get("WEB_FIRST_PORT", "8001")))
    up.add_argument("--http-port", type=int, default=int(os.environ.get("HTTP_PORT", "8080")))
    up.add_argument("--https-port", type=int, default=int(os.environ.get("HTTPS_PORT", "8443")))
    up.add_argument("--prometheus-port", type=int, default=int(os.environ.get("PROMETHEUS_PORT", "9095")))
    up.add_argument("--no-prometheus", action="store_true", help="do not start Prometheus even if installed")
    up.set_defaults(handler=command_up)
    app_user = commands.add_parser("app-user", help="the prefix that runs a command as the unprivileged user")
    app_user.add_argument("--user", default="firstcome")
    app_user.add_argument("--own", action="append", default=[], help="a directory the user writes")
    app_user.set_defaults(handler=command_app_user)
    nginx = commands.add_parser("render-nginx", help="print deploy/nginx/firstcome.conf filled in for a server")
    nginx.add_argument("--web-ports", default="8001,8002", help="ports of the web nodes on this machine")
    nginx.add_argument("--http-listen", default="80")
    nginx.add_argument("--https-listen", default="443")
    nginx.add_argument("--server-name", required=True)
    nginx.add_argument("--tls-cert", required=True)
    nginx.add_argument("--tls-key", required=True)
    nginx.add_argument("--static-root", default="/var/www/firstcome/static")
    nginx.add_argument("--conn-per-client", type=int, default=100)
    nginx.add_argument(
        "--proxy-cache-dir", default=str(PROXY_CACHE_DIR), help="where nginx keeps the line documents it caches"
    )
    nginx.add_argument("--deploy-dir", default=f"{INSTALL_ROOT}/deploy")
    nginx.set_defaults(handler=command_render_nginx)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
