"""What the settings schema and the planning-problem schema share: strict models and key paths."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    # Unknown keys are almost always typos ("horizon_month"): reject them rather than ignore them.
    model_config = ConfigDict(extra="forbid")


def format_loc(loc: tuple, prefix: str = "") -> str:
    """A key path as a planner writes it: `planning.families.Cookware.costs`, `periods[2].demand`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    if prefix:
        text = prefix + ("." + text if text and not text.startswith("[") else text)
    return text or "(top level)"


def message_of(error: dict) -> str:
    """A pydantic error's message in the planner's words (unknown keys are typos; no 'Value error, ')."""
    if error["type"] == "extra_forbidden":
        return "is not a known key (a typo?)"
    return error["msg"].removeprefix("Value error, ")
