"""Forms for the account pages."""

from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts.models import User
from config.ratelimit import RateLimitedFormMixin


class LoginForm(RateLimitedFormMixin, AuthenticationForm):
    """The login page's form; an empty login bucket is a form error (and a 429)."""


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
