"""Frozen terms, with one staff action allowed: opening a scheduled campaign now (opens_at moves earlier)."""
from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION coupons_campaign_terms_frozen() RETURNS trigger AS $$
DECLARE
    opening_now boolean := OLD.status = 'scheduled' AND NEW.status = 'open' AND NEW.opens_at <= OLD.opens_at;
BEGIN
    IF OLD.status <> 'draft' AND (
        NEW.quantity IS DISTINCT FROM OLD.quantity OR
        NEW.amount IS DISTINCT FROM OLD.amount OR
        NEW.kind IS DISTINCT FROM OLD.kind OR
        NEW.allocation IS DISTINCT FROM OLD.allocation OR
        (NEW.opens_at IS DISTINCT FROM OLD.opens_at AND NOT opening_now) OR
        NEW.closes_at IS DISTINCT FROM OLD.closes_at OR
        NEW.coupon_valid_days IS DISTINCT FROM OLD.coupon_valid_days OR
        NEW.status = 'draft'
    ) THEN
        RAISE EXCEPTION 'campaign % is published: its terms are read-only', OLD.slug
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("coupons", "0002_campaign_terms_frozen")]
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
