"""The JSON Schema of scenario files, as editors want it (``yaml-language-server``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from deskdrill.scenarios.model import Scenario


@cache
def json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "deskdrill scenario",
    }
