"""Usernames: NFKC-normalized, and a sign-up that looks like an existing name is refused with a field error."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from accounts.usernames import username_skeletons
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
PASSWORD = "a-long-pass-phrase"


def signup(username: str):
    return Client().post(SIGNUP, {"username": username, "password1": PASSWORD, "password2": PASSWORD})


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430lice",  # Cyrillic а
        "alic\u0435",  # Cyrillic е
        "\u0430l\u0456c\u0435",  # Cyrillic а, і, е
        "a1ice",  # digit one
        "aIice",  # capital I
        "ALICE",  # case
        "Alice",
        "al\u0131ce",  # dotless ı
    ],
)
def test_a_sign_up_confusable_with_an_existing_username_is_refused_with_a_field_error(look_alike):
    UserFactory(username="alice")
    users = User.objects.count()
    response = signup(look_alike)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["username"]
    assert [error.code for error in form.errors.as_data()["username"]] in (["confusable"], ["unique"]), look_alike
    assert User.objects.count() == users


def test_full_width_letters_are_the_same_name_in_nfkc_form():
    UserFactory(username="alice")
    response = signup("ａｌｉｃｅ")
    assert response.status_code == 200 and list(response.context["form"].errors) == ["username"]
    assert signup("ｂｏｂ").status_code == 302
    assert User.objects.filter(username="bob").exists()  # stored normalized


def test_names_that_only_resemble_each_other_are_fine():
    UserFactory(username="alice")
    for name in ("alicia", "malice", "alice2", "김앨리스"):
        assert signup(name).status_code == 302, name


def test_the_service_refuses_a_look_alike_too():
    UserFactory(username="admin")
    with pytest.raises(ValidationError) as refused:
        services.user_create(username="\u0430dmin", password=PASSWORD)
    assert refused.value.error_dict["username"][0].code == "confusable"


def test_existing_look_alike_users_are_unaffected():
    # two users from before the rule (bulk inserts skip it), both look like "bob"
    User.objects.bulk_create(
        [User(username=name, username_skeletons=username_skeletons(name)) for name in ("bob", "b\u043eb")]
    )
    for user in User.objects.filter(username__in=["bob", "b\u043eb"]):
        user.set_password(DEFAULT_PASSWORD)
        user.first_name = "Still"
        user.full_clean()  # editing them (the admin validates the same way) is not refused
        user.save()
        response = APIClient().post(
            "/api/v1/auth/token/", {"username": user.username, "password": DEFAULT_PASSWORD}, format="json"
        )
        assert response.status_code == 201, user.username
    # and a third is refused
    assert signup("b\u03bfb").status_code == 200  # Greek omicron


def test_the_token_api_logs_in_with_any_form_of_the_name_that_normalizes_to_it():
    UserFactory(username="alice")
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "ａｌｉｃｅ", "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 201
    assert (
        Client().post("/accounts/login/", {"username": "ａｌｉｃｅ", "password": DEFAULT_PASSWORD}).status_code == 302
    )


def test_a_name_stored_before_normalization_still_logs_in_as_typed():
    legacy = User(username="ｃａｒｏｌ", username_skeletons=username_skeletons("ｃａｒｏｌ"))
    legacy.set_password(DEFAULT_PASSWORD)
    User.objects.bulk_create([legacy])  # as an old row would be: not in NFKC form
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "ｃａｒｏｌ", "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 201
