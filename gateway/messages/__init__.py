"""Message catalogues of the gateway, one TOML file per language."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=4)
def catalogue(language: str = "fr") -> dict:
    with open(Path(__file__).parent / f"{language}.toml", "rb") as fh:
        return tomllib.load(fh)


def error(code: str, language: str = "fr") -> str:
    errors = catalogue(language)["errors"]
    return errors.get(code, errors["internal"])


def field(code: str, language: str = "fr") -> str:
    fields = catalogue(language)["fields"]
    return fields.get(code, fields["invalid"])


def translate_field_errors(errors: dict, language: str = "fr") -> dict:
    """Map the services' English field errors to the catalogue's wording."""
    rules = [
        ("required", "required"), ("Missing data", "required"), ("Field may not be null", "required"),
        ("not a decimal", "not_a_number"), ("Not a valid number", "not_a_number"),
        ("Not a valid integer", "unknown_year"), ("must be an integer", "unknown_year"),
        ("not be negative", "negative"), ("too large", "too_large"),
        ("two decimal", "two_decimals"),
        ("cannot exceed", "conventioned_exceeds"), ("no contribution rules", "unknown_year"),
        ("7 or 9 digits", "file_number"), ("Unknown field", "unknown_field"),
        ("a NUL character or a lone surrogate", "unstorable_text"),
    ]
    out = {}
    for name, messages in errors.items():
        text = " ".join(messages if isinstance(messages, list) else [str(messages)])
        code = next((c for needle, c in rules if needle.lower() in text.lower()), None)
        out[name] = [field(code, language)] if code else [text]
    return out
