"""deploy/'s templates filled in (nginx, Prometheus) and the local TLS certificate."""

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from deploy.units import DEPLOY, tool


def render(template: Path, values: dict[str, str]) -> str:
    """Fill every @NAME@ of a deploy/ template; a placeholder without a value is an error."""
    text = template.read_text()

    def replace(match: re.Match) -> str:
        if match.group(1) not in values:
            raise KeyError(f"{template.name}: no value for @{match.group(1)}@")
        return values[match.group(1)]

    return re.sub(r"@([A-Z][A-Z0-9_]*)@", replace, text)


# Where nginx keeps the answers it caches (the rooms' line documents, for a second): a
# directory the nginx workers write; Debian's own cache directories live beside it.
PROXY_CACHE_DIR = Path("/var/lib/nginx/firstcome-cache")


def upstream_servers(ports: Iterable[int], *, down: Iterable[int] = (), host: str = "127.0.0.1") -> str:
    down = set(down)
    return "\n".join(f"    server {host}:{port}{' down' if port in down else ''};" for port in ports)


def nginx_site_values(
    *,
    web_ports: Iterable[int],
    down: Iterable[int] = (),
    http_listen: str,
    https_listen: str,
    https_port_suffix: str,
    server_name: str,
    tls_cert: Path,
    tls_key: Path,
    static_root: Path,
    conn_per_client: int,
    proxy_cache_dir: Path = PROXY_CACHE_DIR,
    deploy_dir: Path = DEPLOY,
) -> dict[str, str]:
    return {
        "UPSTREAM_SERVERS": upstream_servers(web_ports, down=down),
        "HTTP_LISTEN": http_listen,
        "HTTPS_LISTEN": https_listen,
        "HTTPS_PORT_SUFFIX": https_port_suffix,
        "SERVER_NAME": server_name,
        "TLS_CERT": str(tls_cert),
        "TLS_KEY": str(tls_key),
        "STATIC_ROOT": str(static_root).rstrip("/"),
        "CONN_PER_CLIENT": str(conn_per_client),
        "PROXY_CACHE_DIR": str(proxy_cache_dir).rstrip("/"),
        "DEPLOY_DIR": str(deploy_dir),
    }


def tls_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (made once), so TLS, the HTTPS redirect,
    secure cookies and HSTS run locally exactly as in production. As in production it is
    issued by a CA (a local one, ca.pem: what clients trust) rather than self-signed, which
    strict verifiers refuse as a server certificate."""
    cert, key, ca = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    if cert.exists() and key.exists() and ca.exists():
        return cert, key
    openssl = tool("openssl")
    if openssl is None:
        raise RuntimeError("openssl is missing: apt-get install openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_key, request = directory / "ca-key.pem", directory / "cert.csr"
    extensions = directory / "cert.ext"
    extensions.write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"
    )
    steps = [
        [openssl, "req", "-x509", *ec, "-days", "825", "-subj", "/CN=firstcome local CA", "-keyout", str(ca_key),
         "-out", str(ca), "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(request)],
        [openssl, "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-days", "825", "-extfile", str(extensions), "-out", str(cert)],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(step, check=True, capture_output=True)
    key.chmod(0o600)
    ca_key.chmod(0o600)
    return cert, key
