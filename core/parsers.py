"""The API's JSON parser: DRF's, with the platform's nesting limit (``core.jsonlimits``)."""

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import APIException, ParseError
from rest_framework.utils.json import strict_constant

from core import jsonlimits


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "too_large"


class JSONParser(parsers.JSONParser):
    """Refuses documents nested deeper than ``JSON_MAX_DEPTH`` and bodies over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (JsonLimitMiddleware answers both first; this holds for any request
    that reaches a parser another way)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        data = stream.read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) if stream else b""
        if len(data) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise RequestTooLarge(
                f"The JSON body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes "
                "(DATA_UPLOAD_MAX_MEMORY_SIZE)."
            )
        try:
            text = data.decode(encoding)
            return jsonlimits.loads(text, parse_constant=strict_constant if self.strict else None)
        except jsonlimits.JSONTooDeepError as exc:
            raise ParseError(f"The JSON body is {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
