"""Django's admin app with firstcome's admin site (config/admin.py)."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    # https://docs.djangoproject.com/en/5.2/ref/contrib/admin/#overriding-the-default-admin-site
    default_site = "config.admin.FirstcomeAdminSite"
