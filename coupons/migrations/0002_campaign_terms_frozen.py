"""Once a campaign is published its terms cannot change, whatever writes the row."""
from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION coupons_campaign_terms_frozen() RETURNS trigger AS $$
BEGIN
    IF OLD.status <> 'draft' AND (
        NEW.quantity IS DISTINCT FROM OLD.quantity OR
        NEW.amount IS DISTINCT FROM OLD.amount OR
        NEW.kind IS DISTINCT FROM OLD.kind OR
        NEW.allocation IS DISTINCT FROM OLD.allocation OR
        NEW.opens_at IS DISTINCT FROM OLD.opens_at OR
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

CREATE TRIGGER coupons_campaign_terms_frozen
    BEFORE UPDATE ON coupons_campaign
    FOR EACH ROW EXECUTE FUNCTION coupons_campaign_terms_frozen();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS coupons_campaign_terms_frozen ON coupons_campaign;
DROP FUNCTION IF EXISTS coupons_campaign_terms_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("coupons", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
