"""Campaigns can be unlisted: test drops (simulate_spike, the benchmarks) stay off the home page and the rankings."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("coupons", "0011_external_clients"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="unlisted",
            field=models.BooleanField(
                default=False,
                help_text="Hidden from the public list of drops and from the rankings; its page still opens by link.",
                verbose_name="unlisted",
            ),
        ),
    ]
