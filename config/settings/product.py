"""The product's own knobs: rate limits, bearer tokens, grants and their delivery, seats, waiting rooms,
and the apps' periodic jobs (base.py merges them into the one beat schedule)."""

from .environment import env

# Rate limits: token buckets in Redis (docs/api.md, "Rate limits"). Claims, seat
# holds and room joins have one per user and one per client IP; a campaign or
# room may set its own values (blank: these; 0: off).
# Per user: a double click and a few retries pass at once, after that one try a
# second; a person never notices, a script hammering gets 429 within 5 requests.
RATE_LIMIT_USER_BURST = env.int("RATE_LIMIT_USER_BURST", default=5)
RATE_LIMIT_USER_PER_SECOND = env.float("RATE_LIMIT_USER_PER_SECOND", default=1.0)
# Per client IP, all users together: generous, because Korean mobile carriers put
# many phones behind one NAT address (a crowd in a stadium, a whole district at a
# drop's opening second); it stops one host spraying through many accounts.
RATE_LIMIT_IP_BURST = env.int("RATE_LIMIT_IP_BURST", default=1000)
RATE_LIMIT_IP_PER_SECOND = env.float("RATE_LIMIT_IP_PER_SECOND", default=100.0)
# Sign-up and login (page and token API): per client IP only (users are not known yet).
SIGNUP_RATE_IP_BURST = env.int("SIGNUP_RATE_IP_BURST", default=30)
SIGNUP_RATE_IP_PER_SECOND = env.float("SIGNUP_RATE_IP_PER_SECOND", default=0.5)
LOGIN_RATE_IP_BURST = env.int("LOGIN_RATE_IP_BURST", default=60)
LOGIN_RATE_IP_PER_SECOND = env.float("LOGIN_RATE_IP_PER_SECOND", default=2.0)
# Login, per username, whatever the IP (credential stuffing spread over many addresses):
# 10 tries at once, then one every 10 s. Every door spends it (accounts/backends.py).
LOGIN_RATE_USER_BURST = env.int("LOGIN_RATE_USER_BURST", default=10)
LOGIN_RATE_USER_PER_SECOND = env.float("LOGIN_RATE_USER_PER_SECOND", default=0.1)
# Proxies (CIDRs) whose X-Forwarded-For names the client (config/clientip.py);
# empty: the client is REMOTE_ADDR and the header is ignored, since anyone can send it.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# A web process keeps a room's row this long (join and status would otherwise
# read PostgreSQL on every poll); staff edits reach other processes within it.
ROOM_CACHE_SECONDS = env.float("ROOM_CACHE_SECONDS", default=2.0)

# --- bearer tokens (simplejwt) ----------------------------------------------
# SIGNING_KEY defaults to SECRET_KEY; set API_TOKEN_SIGNING_KEY to rotate token
# signing on its own (every outstanding token then fails).
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
SIMPLE_JWT = {
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "user_id",
    "ALGORITHM": "HS256",
    "LEEWAY": 0,
    "UPDATE_LAST_LOGIN": False,
}
if env("API_TOKEN_SIGNING_KEY", default=""):
    SIMPLE_JWT["SIGNING_KEY"] = env("API_TOKEN_SIGNING_KEY")

# --- coupons: grants, transfers, recovery -----------------------------------
# "ledger" credits wallets in PostgreSQL; "flaky" wraps it with failures for
# demos and tests; or the dotted path of another TransferBackend.
GRANT_TRANSFER_BACKEND = env("GRANT_TRANSFER_BACKEND", default="ledger")
GRANT_FLAKY_OPTIONS = {
    "transient_rate": env.float("GRANT_FLAKY_TRANSIENT_RATE", default=0.3),
    "permanent_rate": env.float("GRANT_FLAKY_PERMANENT_RATE", default=0.05),
    "slow_rate": env.float("GRANT_FLAKY_SLOW_RATE", default=0.0),
    "slow_seconds": env.float("GRANT_FLAKY_SLOW_SECONDS", default=0.0),
}
# A claim holds its slot under a lease; the sweeper re-examines leases past it.
GRANT_LEASE_SECONDS = env.int("GRANT_LEASE_SECONDS", default=60)
# A repeat click that meets the first click's claim before its grant row is known
# to be committed waits this long for it, then answers 409 claim_in_progress (I8);
# an INSERT normally commits within milliseconds (docs/coupons.md, "The claim").
CLAIM_IN_FLIGHT_WAIT_SECONDS = env.float("CLAIM_IN_FLIGHT_WAIT_SECONDS", default=1.0)
# Transient transfer failures retry with exponential backoff and full jitter.
# 12 retries with a 60 s cap ride out a provider outage of several minutes.
GRANT_MAX_RETRIES = env.int("GRANT_MAX_RETRIES", default=12)
GRANT_RETRY_BACKOFF_MAX = env.int("GRANT_RETRY_BACKOFF_MAX", default=60)
# A pending grant untouched for this long is re-driven by the sweeper; longer
# than the largest backoff so it rarely races a scheduled retry.
GRANT_STUCK_AFTER_SECONDS = env.int("GRANT_STUCK_AFTER_SECONDS", default=120)
# The drain (docs/coupons.md, "Transfers"): grants delivered per transaction. 500
# keeps a batch well under a second and its wallet locks short.
GRANT_DRAIN_BATCH = env.int("GRANT_DRAIN_BATCH", default=500)
# A drain with work left after this long queues its successor and returns, so
# one hot campaign cannot keep a worker from other campaigns and retries.
GRANT_DRAIN_BUDGET_SECONDS = env.float("GRANT_DRAIN_BUDGET_SECONDS", default=30.0)
# A ring's drain starts this long after the ring, so the claims of a burst are
# delivered together (bench/: one drain per claim under a trickle cost the web
# tier a publish per claim and the workers a commit per grant).
GRANT_DRAIN_DELAY_SECONDS = env.float("GRANT_DRAIN_DELAY_SECONDS", default=0.1)
# The drain doorbell expires on its own after this long, in case the drain a ring
# asked for was never published or never ran; the sweeper covers it sooner.
GRANT_DOORBELL_SECONDS = env.int("GRANT_DOORBELL_SECONDS", default=30)
# The sweeper starts a drain for untried pending grants older than this: a ring
# normally gets them delivered well within it.
GRANT_DRAIN_SWEEP_AFTER_SECONDS = env.int("GRANT_DRAIN_SWEEP_AFTER_SECONDS", default=5)
# How long a chosen seat stays held for its holder before it returns to the map.
SEAT_HOLD_SECONDS = env.int("SEAT_HOLD_SECONDS", default=300)
# Behind a waiting room, the pass used for the first hold lets the user switch
# seats (without queueing again) for this long.
SEAT_SESSION_SECONDS = env.int("SEAT_SESSION_SECONDS", default=900)
# Redis holds what is live, not history (docs/operations.md, "Redis memory"): an ended
# campaign (settled) and its closed room leave Redis this long after their last change,
# for a tombstone of ~300 bytes. An hour covers the late clicks and staff looking at the
# live figures after a drop; a retired drop never goes live again.
REDIS_RETIRE_GRACE_SECONDS = env.int("REDIS_RETIRE_GRACE_SECONDS", default=3600)
# How often the retirement job looks for drops past their grace.
REDIS_RETIRE_EVERY_SECONDS = env.float("REDIS_RETIRE_EVERY_SECONDS", default=60.0)

# --- rankings (docs/ranking.md) ----------------------------------------------
# The merge of a board's last 24 hours (hour buckets merged on read) is kept this long;
# every record of the board drops it at once, so this only bounds a merge made stale
# by a writer whose clock was off across the top of an hour.
RANKING_ROLLING_MERGE_SECONDS = env.float("RANKING_ROLLING_MERGE_SECONDS", default=10.0)
# The drop page sends its view beacon with this probability and the server counts each
# beacon as 1/p views (docs/ranking.md, "Most viewed"): 0.1 adds at most a tenth of the
# drop page views in requests to Python. 1 sends every view; 0 turns the beacon off.
VIEW_BEACON_SAMPLE_RATE = env.float("VIEW_BEACON_SAMPLE_RATE", default=0.1)
# Views of one visitor and drop within this many seconds count once.
VIEW_DEDUP_SECONDS = env.int("VIEW_DEDUP_SECONDS", default=60)
# Beacons per client IP (all visitors behind it): a phone sends one per drop page it
# opens (p of them); a NAT full of phones stays far below, a script minting visitors
# is cut off after the burst.
VIEW_BEACON_RATE_IP_BURST = env.int("VIEW_BEACON_RATE_IP_BURST", default=120)
VIEW_BEACON_RATE_IP_PER_SECOND = env.float("VIEW_BEACON_RATE_IP_PER_SECOND", default=2.0)

# --- partners (other systems as clients; docs/partners.md) --------------------
# A key's bucket: a partner's backend claims for all of its users through few keys,
# so it is far larger than a user's; each key may set its own (blank: these; 0: off).
PARTNER_KEY_RATE_BURST = env.int("PARTNER_KEY_RATE_BURST", default=2000)
PARTNER_KEY_RATE_PER_SECOND = env.float("PARTNER_KEY_RATE_PER_SECOND", default=1000.0)
# How long Redis keeps a key's cached entry (and a revoke's mark): a miss costs one read.
PARTNER_KEY_CACHE_SECONDS = env.int("PARTNER_KEY_CACHE_SECONDS", default=3600)
# How long a prefix that names no key is remembered as unknown (a new key replaces it at once).
PARTNER_KEY_UNKNOWN_SECONDS = env.int("PARTNER_KEY_UNKNOWN_SECONDS", default=60)
# A rotated key keeps working this long beside its successor, so the partner can switch without a gap.
PARTNER_KEY_ROTATION_OVERLAP_SECONDS = env.int("PARTNER_KEY_ROTATION_OVERLAP_SECONDS", default=86_400)

# Outcome webhooks (docs/partners.md): each attempt waits this long for an answer; retries back
# off exponentially from the base up to the cap, with jitter, and stop after a day.
PARTNER_WEBHOOK_TIMEOUT_SECONDS = env.float("PARTNER_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
PARTNER_WEBHOOK_BACKOFF_BASE_SECONDS = env.float("PARTNER_WEBHOOK_BACKOFF_BASE_SECONDS", default=10.0)
PARTNER_WEBHOOK_BACKOFF_MAX_SECONDS = env.float("PARTNER_WEBHOOK_BACKOFF_MAX_SECONDS", default=3600.0)
PARTNER_WEBHOOK_GIVE_UP_SECONDS = env.int("PARTNER_WEBHOOK_GIVE_UP_SECONDS", default=86_400)
PARTNER_WEBHOOK_DUE_EVERY_SECONDS = env.float("PARTNER_WEBHOOK_DUE_EVERY_SECONDS", default=5.0)
# A delivery handed to the broker is handed again after this long without an attempt (a lost message).
PARTNER_WEBHOOK_REDUE_SECONDS = env.float("PARTNER_WEBHOOK_REDUE_SECONDS", default=60.0)

PRODUCT_BEAT_SCHEDULE = {
    # Webhook retries whose backoff is over go out within this period (the first attempt goes at once).
    "partner-webhooks-due": {
        "task": "partners.tasks.webhook_due_tick_task",
        "schedule": PARTNER_WEBHOOK_DUE_EVERY_SECONDS,
        "options": {"expires": PARTNER_WEBHOOK_DUE_EVERY_SECONDS},
    },
    # The keys' last use lives in Redis (every request marks it); a minute is fine
    # for the admin's "last used" to survive a Redis loss.
    "partner-keys-last-used": {
        "task": "partners.tasks.partner_keys_last_used_tick_task",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Admission is "users per second": one tick a second per room (the
    # script ignores a second tick in the same second, so two beats are safe).
    "room-admission": {
        "task": "waitingroom.tasks.room_admission_tick_task",
        "schedule": 1.0,
        "options": {"expires": 1},
    },
    # Leaderboard history: a point every 5 minutes charts a drop day well
    # without piling up rows.
    "ranking-snapshot": {
        "task": "ranking.tasks.ranking_snapshot_tick_task",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    # Uses of expired passes are forgotten (silent users need no sweep: the
    # tick drops them at the front, docs/waitingroom.md); a minute keeps the
    # table to about a pass TTL of rows.
    "room-pass-uses": {
        "task": "waitingroom.tasks.room_pass_uses_forget_task",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # The window is enforced exactly by the claim script; this only moves the
    # displayed status (scheduled → open → closed, sold out), so 1 s is plenty.
    "campaign-status": {
        "task": "coupons.tasks.campaign_status_tick_task",
        "schedule": 1.0,
        "options": {"expires": 1},
    },
    # The gate's drift check (I9): after a Redis failover that lost the last
    # claims, a forgotten winner may hear "sold out" until this runs, so its
    # period makes the bound docs/reliability.md states (10 s); a run costs
    # 35-75 ms per open campaign of 10,000 live grants, so every 5 s is cheap
    # during a drop. Claims that meet a lost grant heal the gate sooner.
    "campaign-gate-heal": {
        "task": "coupons.tasks.campaign_gate_heal_tick_task",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    # Expired seat holds return to the map within 5 s (they are refused at
    # once anyway: every hold carries its expiry).
    "seat-sweep": {
        "task": "coupons.tasks.seat_sweep_tick_task",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    # Ended drops leave Redis after their grace; a minute's delay on top of an
    # hour's grace costs nothing, and a run touches only drops past it.
    "redis-retire": {
        "task": "coupons.tasks.redis_retire_tick_task",
        "schedule": REDIS_RETIRE_EVERY_SECONDS,
        "options": {"expires": REDIS_RETIRE_EVERY_SECONDS},
    },
    # Stuck grants and orphaned leases: every 5 s bounds recovery latency
    # without scanning often.
    "grant-sweep": {
        "task": "coupons.tasks.grant_sweep_tick_task",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
}
