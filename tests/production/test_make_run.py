"""`make run` for people: a spike prints no line per request, no Celery warning about root, every
timestamp in one zone, and Ctrl-C ends it cleanly (no `make: *** ... Error 130`)."""

import os
import re
import signal
import subprocess
import time
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.conf import settings

from accounts.tokens import api_token_build
from config.http_load import Call, fire
from tests.coupons.factories import published_campaign
from tests.coupons.test_spike import make_users
from tests.processes import ROOT, free_port, process_env, wait_until

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]


def test_make_run_is_quiet_in_a_spike_speaks_one_time_zone_and_stops_cleanly_on_ctrl_c(tmp_path):
    # given: `make run` as a newcomer starts it, on this run's test stores instead of the run data
    port = free_port()
    env = process_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        LOG_LEVEL="INFO",  # what config.settings.local logs at
        PORT=str(port),
        FIRSTCOME_SERVICES_ENV=str(tmp_path / "services.env"),
        REDIS_URL=settings.REDIS_URL,
    )
    env.pop("REQUEST_LOG_LEVEL", None)
    env.pop("TZ", None)
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        make = subprocess.Popen(
            # --assume-old: never reinstall the shared virtualenv from a test
            ["make", "--no-print-directory", "--assume-old=.venv/.installed", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches all of it, as from a terminal
        )
    try:
        wait_until(lambda: log.read_text().count(" started (pid=") >= 4, timeout=90, message="make run to start")
        wait_until(lambda: _healthz(port), timeout=30, message="the web process")

        # when: a small spike of claims
        campaign = published_campaign(quantity=100, rate_ip_burst=0)
        path = f"/api/v1/campaigns/{campaign.slug}/claims/"
        calls = [Call("POST", path, api_token_build(user=u)[0]) for u in make_users(300, "make-run-")]
        statuses = {r.status for r in fire(f"http://127.0.0.1:{port}", calls, concurrency=8)}
        assert statuses == {202, 409}
        time.sleep(1)

        # and: Ctrl-C
        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=60)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    output = log.read_text(errors="replace")

    # then: stopped as intended: honcho stopped every process, the script said so, make reports no error
    assert "firstcome stopped." in output, output[-3000:]
    assert "make: ***" not in output and "Error 130" not in output, output[-3000:]
    # no line per request
    assert path not in output and "firstcome.request" not in output, output[-3000:]
    # no Celery banner about root (as root the processes run as the unprivileged user)
    assert "SecurityWarning" not in output and "superuser privileges" not in output, output[-3000:]
    # every timestamp honcho prints is Django's time zone, as the processes' own are
    now = datetime.now(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    stamps = re.findall(r"^(?:\x1b\[[0-9;]*m)*(\d\d:\d\d:\d\d) \S+\s+\|", output, re.MULTILINE)
    assert stamps
    for stamp in stamps:
        at = datetime.combine(now.date(), datetime.strptime(stamp, "%H:%M:%S").time(), now.tzinfo)
        assert abs(at - now) < timedelta(minutes=5) or abs(at - now) > timedelta(hours=23), (stamp, now)


def _healthz(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
