"""The rolling last 24 hours, the views board, and the shipped boards made distinct (issue 19).

"hottest" (claims) and "most-served" (succeeded grants) showed the same numbers in every
period but for failed grants: hottest now keeps the last 24 hours, today and this week,
most-served all time only. "most-viewed" counts the drop page's sampled beacon over the
last 24 hours.
"""

from django.db import migrations, models


SHIPPED = {
    "hottest": {"rolling_24h": True, "daily": True, "weekly": True, "all_time": False},
    "most-served": {"rolling_24h": False, "daily": False, "weekly": False, "all_time": True},
}


def forward(apps, schema_editor):
    Board = apps.get_model("ranking", "Board")
    for slug, periods in SHIPPED.items():
        Board.objects.filter(slug=slug).update(**periods)
    Board.objects.get_or_create(
        slug="most-viewed",
        defaults={
            "title": "Most viewed",
            "metric": "views",
            "direction": "desc",
            "position": 2,
            "rolling_24h": True,
            "daily": False,
            "weekly": False,
            "all_time": False,
        },
    )


def backward(apps, schema_editor):
    Board = apps.get_model("ranking", "Board")
    Board.objects.filter(slug="most-viewed").delete()
    Board.objects.filter(slug__in=SHIPPED).update(daily=True, weekly=True, all_time=True)


class Migration(migrations.Migration):

    dependencies = [
        ('ranking', '0004_verbose_names_translatable'),
    ]

    operations = [
        migrations.AddField(
            model_name='board',
            name='rolling_24h',
            field=models.BooleanField(default=False, help_text='A rolling last 24 hours: hourly buckets merged on read.', verbose_name='last 24 hours'),
        ),
        migrations.AlterField(
            model_name='board',
            name='metric',
            field=models.CharField(choices=[('claims', 'Claims (hottest campaigns)'), ('sell_out_seconds', 'Seconds from opening to sold out (fastest sell-outs)'), ('users_served', 'Users served (succeeded grants)'), ('views', 'Page views (sampled beacon of the drop page, estimated)')], max_length=20, verbose_name='metric'),
        ),
        migrations.AlterField(
            model_name='boardsnapshot',
            name='period_key',
            field=models.CharField(help_text='"d:20261122", "w:2026-W47", "24h" or "all"', max_length=20, verbose_name='period key'),
        ),
        migrations.RunPython(forward, backward),
    ]
