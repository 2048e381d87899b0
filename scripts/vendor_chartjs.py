#!/usr/bin/env python3
"""Vendor Chart.js into static/vendor/chartjs, or check the vendored copy (`--check`).

Chart.js's minified build ends with `//# sourceMappingURL=chart.umd.min.js.map`. We do
not ship the ~1 MB map, and with the comment in place collectstatic's manifest storage
fails on the missing file (so production pages answered 500), hence the step removes
that one line and records the upstream file's SHA-256 in the README:

    scripts/vendor_chartjs.py 4.6.1     # download chart.js@4.6.1 from npm, strip, write
    scripts/vendor_chartjs.py --check   # what tests/production/test_static.py runs

`--check` proves the vendored file is the upstream one minus that line (its SHA-256 with
the line put back is the recorded one) and that no file under static/ names a source map
that is not shipped.
"""

import argparse
import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
VENDOR = STATIC / "vendor" / "chartjs"
SCRIPT = VENDOR / "chart.umd.min.js"
README = VENDOR / "README.md"
MAP_LINE = b"//# sourceMappingURL=chart.umd.min.js.map\n"
SOURCE_MAP = re.compile(rb"^\s*(?://|/\*)#\s*sourceMappingURL=(\S+?)(?:\s*\*/)?\s*$", re.MULTILINE)
RECORDED = re.compile(r"upstream SHA-256 `([0-9a-f]{64})`")


def strip_source_map(data: bytes) -> bytes:
    """The file without its trailing source map comment (exactly MAP_LINE, or nothing to strip)."""
    if data.endswith(MAP_LINE):
        return data[: -len(MAP_LINE)]
    if SOURCE_MAP.search(data):
        raise ValueError("a sourceMappingURL comment that is not the expected last line")
    return data


def dangling_source_maps(root: Path = STATIC) -> list[str]:
    """Every `sourceMappingURL` under root whose map file is not there (collectstatic would fail)."""
    problems = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".js", ".css") or not path.is_file():
            continue
        for match in SOURCE_MAP.finditer(path.read_bytes()):
            target = match.group(1).decode()
            if target.startswith("data:"):
                continue
            if not (path.parent / target.split("?")[0]).exists():
                problems.append(f"{path.relative_to(root)} -> {target}")
    return problems


def vendor(version: str) -> None:
    url = f"https://registry.npmjs.org/chart.js/-/chart.js-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        tarball = response.read()
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        upstream = archive.extractfile("package/dist/chart.umd.min.js").read()
        licence = archive.extractfile("package/LICENSE.md").read()
    SCRIPT.write_bytes(strip_source_map(upstream))
    (VENDOR / "LICENSE.md").write_bytes(licence)
    README.write_text(
        f"Chart.js {version} (MIT), `dist/chart.umd.min.js` from the npm package `chart.js@{version}`,\n"
        "served locally for the live operations dashboard (no CDN), vendored by `scripts/vendor_chartjs.py`:\n"
        "its last line, `//# sourceMappingURL=chart.umd.min.js.map`, is removed (the map is not shipped,\n"
        "and collectstatic's manifest storage fails on a reference to a missing file).\n"
        f"upstream SHA-256 `{hashlib.sha256(upstream).hexdigest()}`\n"
        f"Update: `scripts/vendor_chartjs.py <version>`; `scripts/vendor_chartjs.py --check` verifies.\n"
    )
    print(f"vendored Chart.js {version} into {VENDOR.relative_to(ROOT)}")


def check() -> list[str]:
    problems = [f"dangling source map: {problem}" for problem in dangling_source_maps()]
    data = SCRIPT.read_bytes()
    if SOURCE_MAP.search(data):
        problems.append(f"{SCRIPT.relative_to(ROOT)} still names a source map")
    recorded = RECORDED.search(README.read_text())
    if recorded is None:
        problems.append(f"{README.relative_to(ROOT)} records no upstream SHA-256")
    elif hashlib.sha256(data + MAP_LINE).hexdigest() != recorded.group(1):
        problems.append(f"{SCRIPT.relative_to(ROOT)} is not the upstream file minus its source map line")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", nargs="?", help="the chart.js version to vendor from npm")
    parser.add_argument("--check", action="store_true", help="verify the vendored copy instead")
    args = parser.parse_args()
    if args.check or not args.version:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    vendor(args.version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
