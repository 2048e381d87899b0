"""URL root of the benchmark stack: production's URLs plus the baselines of bench/.

Only config.settings.bench points here; production never mounts these views.
"""

from django.urls import include, path

from bench import baselines
from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as production

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

urlpatterns = [
    path("bench/", include(baselines.urlpatterns)),
    *production,
]
