import pytest

from coupons.selectors import campaign_ids_forget
from coupons.services.external_clients import external_clients_forget
from partners.services.visitors import partner_secrets_forget


@pytest.fixture(autouse=True)
def memos_forget():
    """Each test's campaigns and clients are new rows: forget what an earlier test's process memo named."""
    campaign_ids_forget()
    external_clients_forget()
    partner_secrets_forget()
    yield
