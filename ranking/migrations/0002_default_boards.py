"""The three boards of DESIGN §6, so every installation starts with them (staff may edit them)."""
from django.db import migrations

BOARDS = (
    ("hottest", "Hottest drops", "claims", "desc", 1),
    ("fastest-sell-outs", "Fastest sell-outs", "sell_out_seconds", "asc", 2),
    ("most-served", "Most users served", "users_served", "desc", 3),
)


def create(apps, schema_editor):
    Board = apps.get_model("ranking", "Board")
    for slug, title, metric, direction, position in BOARDS:
        Board.objects.get_or_create(
            slug=slug, defaults={"title": title, "metric": metric, "direction": direction, "position": position}
        )


def remove(apps, schema_editor):
    apps.get_model("ranking", "Board").objects.filter(slug__in=[b[0] for b in BOARDS]).delete()


class Migration(migrations.Migration):
    dependencies = [("ranking", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
