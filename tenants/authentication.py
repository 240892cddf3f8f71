"""API token authentication: ``Authorization: Token csm_...`` looked up by hash."""

from rest_framework import authentication, exceptions

from .audit import audit_token_rejected
from .selectors import api_token_by_hash
from .services import api_token_touch, hash_token


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """Hashed, expiring, revocable tokens; a token limited to one tenant is checked by the tenant layer."""

    keyword = "Token"

    def authenticate(self, request):
        # authenticate_credentials gets only the key; the audit entry needs the request's origin.
        self._request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        token = api_token_by_hash(key_hash=hash_token(key))
        request = getattr(self, "_request", None)
        if token is None or not token.is_usable:
            reason = "invalid" if token is None else ("revoked" if token.revoked_at else "expired")
            audit_token_rejected(request=request, token=token, reason=reason)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        if not token.user.is_active:
            audit_token_rejected(request=request, token=token, reason="inactive_user")
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        api_token_touch(token=token)
        return token.user, token
