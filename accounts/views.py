"""Account pages: sign-up, login and the API token page."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import LoginForm, SignUpForm
from config.clientip import client_ip
from config.ratelimit import RateLimited


def _rate_limited(request: HttpRequest, error: RateLimited, template: str, context: dict) -> HttpResponse:
    """The form again, empty, answered 429 with Retry-After (nothing of the request was looked at)."""
    messages.error(request, error.detail)
    response = render(request, template, context, status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _safe_next(request: HttpRequest) -> str:
    """The `next` page asked for, when it is on this site (never an open redirect), else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    secure = request.is_secure()
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=secure) else ""


def _with_next(url_name: str, next_url: str) -> str:
    """The URL of `url_name`, carrying `next` along when there is one."""
    url = reverse(url_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """A new account, logged in at once and sent on to `next` (the page that asked to log in) or home."""
    next_url = _safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or "home")
    context = {"next": next_url, "login_url": _with_next("login", next_url)}
    if request.method == "POST":
        try:
            services.signup_attempt(client_ip=client_ip(request))
        except RateLimited as error:
            form = SignUpForm(initial={"username": request.POST.get("username", "")[:150]})
            return _rate_limited(request, error, "registration/signup.html", {**context, "form": form})
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data.get("email", ""),
            password=form.cleaned_data["password1"],
        )
        login(request, user)  # the one backend (settings.AUTHENTICATION_BACKENDS)
        messages.success(request, _("Welcome, %(username)s.") % {"username": user.username})
        return redirect(next_url or "home")
    return render(request, "registration/signup.html", {**context, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # Cache-Control: no-store: the page shows a token; no cache, shared or the browser's, may keep it
def api_token(request: HttpRequest) -> HttpResponse:
    """Shows a new token once on POST; `revoke` invalidates every token of the user."""
    context: dict = {}
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.api_token_revoke(user=request.user)
            messages.success(request, _("All your API tokens have been revoked."))
            return redirect("api-token")
        context["token"], context["expires_at"] = services.api_token_issue(user=request.user)
    return render(request, "accounts/api_token.html", context)


class LoginView(auth_views.LoginView):
    """Django's login page; each password checked spends the login buckets of the IP and the username
    (accounts/backends.py), and an empty one answers 429 with the form saying so."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["signup_url"] = _with_next("signup", context.get("next", ""))
        return context

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        response = super().form_invalid(form)
        return form.rate_limited.respond(response) if form.rate_limited else response
