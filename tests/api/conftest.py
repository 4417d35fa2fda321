import pytest

from api import services
from api.models import PartnerToken


@pytest.fixture
def make_token(db):
    def make(*, scopes=(), rate=1000, name="МИС «Тест»"):
        return services.partner_token_create(name=name, scopes=list(scopes), rate_per_minute=rate)

    return make


@pytest.fixture
def public_token(make_token):
    return make_token()[1]


@pytest.fixture
def partner_token(make_token):
    return make_token(scopes=[PartnerToken.Scope.PERSONAL, PartnerToken.Scope.DOCUMENTS])[1]


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
