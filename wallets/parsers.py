"""A JSON parser that keeps numbers as their original text (``RawNumber``), so
``StrictAmountField`` can judge exactly what the client wrote. NaN/Infinity literals are
refused (400 malformed_request)."""

import json

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class RawNumber(str):
    """A JSON number's text, e.g. ``"1e5"`` or ``"0.10"``."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


class RawNumberJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(encoding), parse_float=RawNumber,
                              parse_int=RawNumber, parse_constant=_reject_constant)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
