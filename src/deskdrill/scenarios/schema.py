"""The JSON Schema of scenario files, as editors want it (``yaml-language-server``)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from deskdrill.scenarios.fields import format_duration
from deskdrill.scenarios.model import Scenario


class _Generator(GenerateJsonSchema):
    def encode_default(self, dflt: Any) -> Any:
        # Durations as a scenario file writes them ("10m"), not ISO 8601 ("PT10M"), which
        # the files do not accept: an editor that fills in a default must get a valid one.
        if isinstance(dflt, timedelta):
            return format_duration(dflt)
        return super().encode_default(dflt)


@cache
def json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(mode="validation", schema_generator=_Generator)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "deskdrill scenario",
    }
