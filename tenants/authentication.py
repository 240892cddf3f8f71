"""API token authentication: ``Authorization: Token csm_...`` looked up by hash."""

from rest_framework import authentication, exceptions

from .selectors import api_token_by_hash
from .services import api_token_touch, hash_token


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """Hashed, expiring, revocable tokens; a token limited to one tenant is checked by the tenant layer."""

    keyword = "Token"

    def authenticate_credentials(self, key: str):
        token = api_token_by_hash(key_hash=hash_token(key))
        if token is None or not token.is_usable:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        api_token_touch(token=token)
        return token.user, token
