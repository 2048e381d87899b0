"""Static files with the production storage: collectstatic (the release unit) post-processes every
file, nothing names a missing file, and the vendored Chart.js is upstream minus its map line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import units

pytestmark = [pytest.mark.production]

ROOT = units.ROOT


def test_vendored_chartjs_is_upstream_without_its_source_map_line():
    result = subprocess.run(
        [sys.executable, "scripts/vendor_chartjs.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_release_collects_every_static_file_with_the_manifest_storage(release):
    # given: the release unit ran (migrate, collectstatic) with the production settings
    static_root = Path(release.env["DJANGO_STATIC_ROOT"])
    log = (release.run_dir / "logs" / "firstcome-release.log").read_text()
    assert "post-processed" in log and "Post-processing" not in log, log[-2000:]

    # then: the manifest names a hashed, compressed copy of every file of static/
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    ours = {str(path.relative_to(ROOT / "static")) for path in (ROOT / "static").rglob("*") if path.is_file()}
    assert ours <= set(manifest), sorted(ours - set(manifest))
    for name in ours:
        hashed = static_root / manifest[name]
        assert hashed.exists(), name
        if hashed.suffix in (".css", ".js"):
            assert hashed.with_name(hashed.name + ".gz").exists(), f"{name}: no .gz for nginx's gzip_static"
    assert "admin/css/base.css" in manifest  # Django's own apps are collected too


def test_collectstatic_fails_on_a_reference_to_a_missing_file(release, tmp_path):
    """What this suite guards against: one dangling reference fails the whole release."""
    # given: the production settings with one more static folder holding a script that names a missing map
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "broken.js").write_text("console.log(1);\n//# sourceMappingURL=broken.js.map\n")
    (tmp_path / "with_broken_static.py").write_text(
        f"from config.settings.production import *  # noqa\nSTATICFILES_DIRS = [*STATICFILES_DIRS, {str(extra)!r}]\n"
    )
    env = {
        **os.environ,
        **release.env,
        "DJANGO_SETTINGS_MODULE": "with_broken_static",
        "PYTHONPATH": f"{tmp_path}:{ROOT}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "collected"),
    }

    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    # then
    assert result.returncode != 0
    assert "broken.js.map" in result.stderr
    assert not (tmp_path / "collected" / "staticfiles.json").exists()
