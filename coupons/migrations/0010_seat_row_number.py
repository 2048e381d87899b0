"""Seats get a row and a number, so the map lines rows up by section; existing seats take them from
their label, and then the published map's trigger freezes them with the rest of the seat's terms."""

import re

from django.db import migrations, models

FROZEN = """
CREATE OR REPLACE FUNCTION coupons_seat_terms_frozen() RETURNS trigger AS $$
BEGIN
    IF (SELECT status FROM coupons_campaign WHERE id = OLD.campaign_id) <> 'draft' AND (
        TG_OP = 'DELETE' OR
        NEW.price IS DISTINCT FROM OLD.price OR
        NEW.label IS DISTINCT FROM OLD.label OR
        NEW.slot IS DISTINCT FROM OLD.slot OR
        NEW.section IS DISTINCT FROM OLD.section{extra}
    ) THEN
        RAISE EXCEPTION 'the seat map of a published campaign is read-only' USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;
"""
ROW_AND_NUMBER = """ OR
        NEW.row IS DISTINCT FROM OLD.row OR
        NEW.number IS DISTINCT FROM OLD.number"""

LABEL = re.compile(r"^([A-Za-z]+)-?(\d+)$")


def rows_from_labels(apps, schema_editor):
    Seat = apps.get_model("coupons", "Seat")
    batch = []
    for seat in Seat.objects.filter(number=0).only("pk", "label").iterator(chunk_size=2000):
        match = LABEL.match(seat.label)
        if match is None:
            continue  # a label of another shape keeps row "" and number 0: the map puts it in one row
        seat.row, seat.number = match.group(1).upper()[:4], int(match.group(2))
        batch.append(seat)
        if len(batch) >= 2000:
            Seat.objects.bulk_update(batch, ["row", "number"])
            batch = []
    Seat.objects.bulk_update(batch, ["row", "number"])


class Migration(migrations.Migration):
    dependencies = [
        ("coupons", "0009_campaign_gate_retired_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="seat",
            name="row",
            field=models.CharField(blank=True, default="", help_text='e.g. "A"', max_length=4, verbose_name="row"),
        ),
        migrations.AddField(
            model_name="seat",
            name="number",
            field=models.PositiveIntegerField(default=0, help_text="Its number in the row.", verbose_name="number"),
        ),
        migrations.RunPython(rows_from_labels, migrations.RunPython.noop),
        migrations.RunSQL(FROZEN.format(extra=ROW_AND_NUMBER), FROZEN.format(extra="")),
    ]
