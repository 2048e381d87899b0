"""The header takes one row, on a phone (links behind a Menu button) as on a desktop, in English and Korean."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.browser.test_accessibility import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ONE_ROW = 64  # px: the 56 px bar and its border, with room for rounding


def signed_in_page(new_page, *, locale: str, desktop: bool):
    user = UserFactory(username="header", is_staff=True)  # the longest header: staff see "Admin" too
    user.set_password(PASSWORD)
    user.save()
    page = new_page(locale=locale, desktop=desktop)
    log_in(page, "header")
    page.goto(reverse("home"))
    return page


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_on_a_phone_the_header_is_one_row_and_the_menu_opens_the_links(new_page, shots, locale):
    page = signed_in_page(new_page, locale=locale, desktop=False)
    header = page.locator("header.topbar")
    toggle = page.locator(".menu-toggle")
    links = page.locator("#site-nav a")
    # the brand and the Menu button share one row, and the links wait behind it
    expect(toggle).to_be_visible()
    assert header.bounding_box()["height"] <= ONE_ROW
    brand, button = page.locator(".brand").bounding_box(), toggle.bounding_box()
    assert abs((brand["y"] + brand["height"] / 2) - (button["y"] + button["height"] / 2)) < 8
    assert button["x"] + button["width"] <= page.viewport_size["width"]
    expect(links.first).to_be_hidden()
    shots(page, "closed")
    # opening the menu shows every link inside the screen, and Escape closes it again
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    for index in range(links.count()):
        expect(links.nth(index)).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shots(page, "open")
    page.keyboard.press("Escape")
    expect(links.first).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    # and a link in it works
    toggle.click()
    page.locator(f"#site-nav a[href='{reverse('my-grants')}']").click()
    expect(page).to_have_url(f"{page.url.split('/', 3)[0]}//{page.url.split('/', 3)[2]}{reverse('my-grants')}")


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_on_a_desktop_every_link_shows_in_one_row_without_a_menu(new_page, shots, locale):
    page = signed_in_page(new_page, locale=locale, desktop=True)
    expect(page.locator(".menu-toggle")).to_be_hidden()
    links = page.locator("#site-nav a")
    tops = {round(links.nth(index).bounding_box()["y"]) for index in range(links.count())}
    assert len(tops) == 1, tops
    assert page.locator("header.topbar").bounding_box()["height"] <= ONE_ROW
    shots(page, "desktop")
