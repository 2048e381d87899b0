import factory

from accounts.models import User

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    # Hashed before the one INSERT: a set_password() and a second save would be a password change
    # (which revokes tokens, accounts/signals.py).
    password = factory.django.Password(DEFAULT_PASSWORD)
