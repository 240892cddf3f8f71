"""Source secrets: encrypted at rest, never returned, rotatable keys."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django_scopes import scopes_disabled

from sources.models import Source
from sources.secrets import decrypt_secrets
from tests.factories import make_source

CONFIG = {"url": "https://vendor.example/api/counts", "items": "data", "key": "id", "time": "t", "value": "v",
          "metric": "visitor_estimate", "api_key_header": "Authorization"}  # fmt: skip


def stored(source) -> str:
    with scopes_disabled():
        return Source.objects.get(pk=source.pk).secrets_encrypted


def test_secrets_are_encrypted_at_rest_and_never_returned(api_as, admin_a, tenant_a):
    response = api_as(admin_a).post(
        "/api/v1/tenants/tenant-a/sources/",
        {"slug": "panel", "name": "GPS panel", "kind": "generic_json", "config": CONFIG,
         "secrets": {"api_key": "s3cret-vendor-key"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert "s3cret-vendor-key" not in response.content.decode()
    assert response.json()["secrets_set"] == ["api_key"]
    source = Source.objects.with_scopes_disabled().get(slug="panel")
    assert "s3cret" not in stored(source)
    assert decrypt_secrets(stored(source)) == {"api_key": "s3cret-vendor-key"}
    detail = api_as(admin_a).get(f"/api/v1/tenants/tenant-a/sources/{source.pk}/").content.decode()
    assert "s3cret-vendor-key" not in detail
    # leaving secrets out of an update keeps them; giving them replaces them
    api_as(admin_a).patch(f"/api/v1/tenants/tenant-a/sources/{source.pk}/", {"name": "Panel"}, format="json")
    assert decrypt_secrets(stored(source)) == {"api_key": "s3cret-vendor-key"}


def test_keys_rotate(tenant_a, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SOURCE_SECRET_KEYS = [old]
    source = make_source(tenant_a, kind="generic_json", config=CONFIG, secrets={"api_key": "k1"})
    settings.SOURCE_SECRET_KEYS = [new, old]  # new key first: new secrets use it, the old still decrypts
    assert decrypt_secrets(stored(source)) == {"api_key": "k1"}
    call_command("rotate_source_secrets", stdout=StringIO())
    settings.SOURCE_SECRET_KEYS = [new]  # the old key can go
    assert decrypt_secrets(stored(source)) == {"api_key": "k1"}


def test_rotation_refuses_when_a_key_is_missing(tenant_a, settings):
    settings.SOURCE_SECRET_KEYS = [Fernet.generate_key().decode()]
    make_source(tenant_a, kind="generic_json", config=CONFIG, secrets={"api_key": "k1"})
    settings.SOURCE_SECRET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_source_secrets", stdout=StringIO())
