"""Backup and restore (docs/deploy.md): a pg_dump taken mid-drop, restored into a fresh database,
Redis emptied and its live state rebuilt from the restore, and then no drift at all."""

import contextlib
import subprocess
import threading
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from accounts.tokens import api_token_build
from config.http_load import Call, fire
from coupons.models import Campaign, Grant
from coupons.services.claims import claim_create
from coupons.services.reconcile import campaign_reconcile
from tests.coupons.factories import published_campaign
from tests.coupons.invariants import check_invariants
from tests.coupons.test_spike import make_users
from tests.isolation import redis_flush
from tests.processes import wait_until
from tests.production.conftest import database_url, require_tool

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]

SLOTS = 2_000


def _admin_url() -> str:
    return database_url().rsplit("/", 1)[0] + "/postgres"


@contextlib.contextmanager
def database(name: str):
    """This process's ORM (and the processes tests/processes.py starts) on another database."""
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def test_a_dump_taken_mid_drop_restores_with_zero_drift(web_server, worker_factory, tmp_path):
    pg_dump, pg_restore = require_tool("pg_dump", "postgresql-client"), require_tool("pg_restore", "postgresql-client")
    # given: a drop in full swing: claims pouring in over HTTP while a worker delivers grants
    campaign = published_campaign(quantity=SLOTS, amount=10, rate_ip_burst=0)
    users = make_users(SLOTS + 500, "restore-")
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    calls = [Call("POST", path, api_token_build(user=u)[0], u.pk) for u in users]
    worker = worker_factory()
    results: list = []
    firing = threading.Thread(target=lambda: results.extend(fire(web_server.extra["url"], calls, concurrency=8)))
    firing.start()
    live = Grant.objects.filter(campaign=campaign)

    # when: the backup runs in the middle of it (a plain dump: one consistent snapshot)
    wait_until(lambda: live.filter(status=Grant.Status.SUCCEEDED).count() >= 200, timeout=60, message="deliveries")
    dump = tmp_path / "firstcome.dump"
    subprocess.run([pg_dump, "--format=custom", f"--file={dump}", database_url()], check=True)
    firing.join()
    wait_until(lambda: not live.filter(status=Grant.Status.PENDING).exists(), timeout=60, message="the drain")
    acknowledged = {r.body["grant_id"] for r in results if r.status == 202}
    assert len(acknowledged) == SLOTS
    worker.stop()

    # and: it is restored into a fresh database (docs/deploy.md, "Backup and restore")
    restored = connection.settings_dict["NAME"] + "_restored"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{restored}"')
        admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        subprocess.run(
            [pg_restore, "--no-owner", "--exit-on-error", f"--dbname={database_url().rsplit('/', 1)[0]}/{restored}",
             str(dump)],
            check=True,
        )  # fmt: skip
        with database(restored):
            # then: the dump is a mid-drop snapshot: some grants delivered, some pending, and the
            # claims acknowledged after it are not there (a plain dump's recovery point)
            at_dump = dict(Grant.objects.filter(campaign_id=campaign.pk).values_list("status").annotate(n=Count("id")))
            assert at_dump.get("succeeded", 0) >= 200 and at_dump.get("pending", 0) > 0, at_dump
            kept = {str(g) for g in Grant.objects.filter(campaign_id=campaign.pk).values_list("id", flat=True)}
            assert kept < acknowledged, "the restore holds a grant nobody was told about"
            lost = acknowledged - kept
            print(f"\nat the dump: {at_dump}; acknowledged after it (lost to a plain dump): {len(lost)}")

            # when: Redis, which holds the newer timeline, is emptied and rebuilt from the restore
            redis_flush()
            out = StringIO()
            call_command("reconcile", "--no-progress", stdout=out)
            assert "1 campaign(s) drifted, all fixed" in out.getvalue(), out.getvalue()
            call_command("rebuild_rankings", "--no-progress", stdout=StringIO())

            # then: no drift left
            restored_campaign = Campaign.objects.get(pk=campaign.pk)
            report = campaign_reconcile(campaign=restored_campaign, fix=False)
            assert not report.drifted, report
            out = StringIO()
            call_command("reconcile", "--dry-run", "--no-progress", stdout=out)
            assert "0 campaign(s) drifted" in out.getvalue()

            # and: the grants pending in the dump are delivered (the sweeper re-drives them), every
            # invariant holds on the restored data, and the gate agrees with it
            restored_worker = worker_factory(name="restored")
            wait_until(
                lambda: not Grant.objects.filter(campaign_id=campaign.pk, status=Grant.Status.PENDING).exists(),
                timeout=60,
                message="the restored pending grants to settle",
            )
            check_invariants(restored_campaign, acknowledged=kept, drained=True)
            # a user whose claim the dump kept gets that grant again; one whose claim was lost claims anew
            kept_grant = Grant.objects.filter(campaign_id=campaign.pk).first()
            again = claim_create(campaign_id=campaign.pk, user_id=kept_grant.user_id)
            assert (again.created, again.grant_id) == (False, str(kept_grant.pk))
            lost_user = next(r.call.tag for r in results if r.status == 202 and r.body["grant_id"] in lost)
            anew = claim_create(campaign_id=campaign.pk, user_id=lost_user)
            assert anew.created and anew.grant_id not in acknowledged
            restored_worker.stop()
    finally:
        with psycopg.connect(_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
