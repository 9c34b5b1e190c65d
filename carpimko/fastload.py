"""A quicker ``Schema.load`` for the event contracts, that may only say yes.

Why: every event is loaded through its marshmallow contract by its producer and by each consumer, and
marshmallow's generic machinery (a closure, an error store and an ``And`` of the validators per field, per
value) costs several times the checks themselves (docs/benchmarks.md). The contracts stay marshmallow
schemas; this module reads their fields once and builds a plain function that runs the same conversions and
the same validator objects on a well-formed message.

The rule that keeps it exactly as strict as marshmallow: the quick path returns what ``schema.load`` would
return, or gives up. It never refuses anything itself: on anything it is not sure of (a wrong type, a value a
validator refuses, an unknown key, a field kind it does not know) it hands the same data to ``schema.load``,
which accepts or refuses it and words the error, as before. A schema using anything this module does not know
(hooks, ``many``, ``partial``, ``unknown`` other than raise, other field kinds) is always loaded by
marshmallow. ``tests/unit/carpimko/test_fastload.py`` compares both on valid and mutated events.
"""
from __future__ import annotations

import decimal
import uuid
from typing import Any, Callable

from marshmallow import RAISE, Schema, ValidationError, fields, missing

__all__ = ["dumper", "loader", "validator"]


class _GiveUp(Exception):
    """The quick path cannot vouch for this data: marshmallow decides."""


class _Unsupported(Exception):
    """The schema uses something the quick path does not reproduce."""


def loader(schema: Schema, money_field: type[fields.Field] | None = None) -> Callable[[Any], Any]:
    """``schema.load``, quicker on data it accepts; raises the same ``ValidationError`` on data it refuses.

    ``money_field``: the project's two-decimal ``Decimal`` subclass (``carpimko.events.MoneyField``), whose
    extra check (no third decimal, never rounded) the quick path reproduces."""
    try:
        quick = _compile_schema(schema, money_field)
    except _Unsupported:
        return schema.load

    def load(data):
        try:
            return quick(data)
        except Exception:  # noqa: BLE001 - anything unexpected: marshmallow decides, as before
            return schema.load(data)

    return load


def validator(schema: Schema, money_field=None) -> Callable[[Any], dict]:
    """``schema.validate`` (the errors by field, ``{}`` when valid), quicker on valid data."""
    try:
        quick = _compile_schema(schema, money_field)
    except _Unsupported:
        return schema.validate

    def errors(data) -> dict:
        try:
            quick(data)
        except Exception:  # noqa: BLE001 - see loader
            return schema.validate(data)
        return {}

    return errors


def _compile_schema(schema: Schema, money_field) -> Callable[[Any], dict]:
    if any(schema._hooks.values()) or schema.many or schema.partial or schema.unknown != RAISE:
        raise _Unsupported
    entries = []
    for attr_name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else attr_name
        out_key = field.attribute or attr_name
        if "." in out_key:
            raise _Unsupported
        entries.append((key, out_key, _compile_field(field, key, money_field)))
    known = frozenset(key for key, _, _ in entries)
    entries = tuple(entries)

    def quick(data):
        if type(data) is not dict or not known.issuperset(data):  # unknown keys are refused: marshmallow words it
            raise _GiveUp
        out = {}
        for key, out_key, run in entries:
            value = run(data.get(key, missing), data)
            if value is not missing:
                out[out_key] = value
        return out

    return quick


_TEMPORAL_AND_TEXT = (fields.Date, fields.DateTime, fields.AwareDateTime, fields.Email)


def _compile_field(field: fields.Field, attr: str | None, money_field) -> Callable[[Any, Any], Any]:
    """``field.deserialize(value, attr, data)`` for a value that loads, else :class:`_GiveUp`."""
    if field.pre_load or field.post_load:
        raise _Unsupported
    convert = _converter(field, attr, money_field)
    validators = tuple(field.validators)
    required, allow_none, load_default = field.required, field.allow_none, field.load_default

    def run(value, data):
        if value is missing:
            if required:
                raise _GiveUp
            return load_default() if callable(load_default) else load_default
        if value is None:
            if allow_none:
                return None
            raise _GiveUp
        out = convert(value, data)
        for check in validators:
            if check(out) is False:
                raise _GiveUp
        return out

    return run


def _converter(field: fields.Field, attr: str | None, money_field) -> Callable[[Any, Any], Any]:
    """``field._deserialize`` for values it accepts, without its generic detours."""
    kind = type(field)
    if kind is fields.String:
        def convert(value, data):
            if type(value) is not str:
                raise _GiveUp
            return value
    elif kind is fields.Integer:
        def convert(value, data):
            if type(value) is not int:  # int(value) is value; bools, floats and numeric strings: marshmallow
                raise _GiveUp
            return value
    elif kind is fields.Boolean and field.truthy == fields.Boolean.truthy and field.falsy == fields.Boolean.falsy:
        def convert(value, data):
            if value is not True and value is not False:
                raise _GiveUp
            return value
    elif kind is fields.UUID:
        def convert(value, data):
            if type(value) is not str:
                raise _GiveUp
            return uuid.UUID(value)
    elif (kind is fields.Decimal or (money_field is not None and kind is money_field)) and not field.allow_nan:
        places, rounding = field.places, field.rounding
        exact = kind is not fields.Decimal  # the money field refuses a value that quantizing would change
        if exact and (places != decimal.Decimal("0.01") or rounding is not None):
            raise _Unsupported

        def convert(value, data):
            if type(value) is not str:
                raise _GiveUp
            number = decimal.Decimal(value)
            if not number.is_finite():
                raise _GiveUp
            if places is None:
                return number
            rounded = number.quantize(places, rounding=rounding)
            if exact and rounded != number:
                raise _GiveUp
            return rounded
    elif kind is fields.Nested:
        if field.many or field.unknown is not None:
            raise _Unsupported
        nested = _compile_schema(field.schema, money_field)

        def convert(value, data):
            return nested(value)
    elif kind is fields.List:
        inner = _compile_field(field.inner, None, money_field)

        def convert(value, data):
            if type(value) is not list:
                raise _GiveUp
            return [inner(each, None) for each in value]
    elif kind is fields.Dict and field.key_field is None and field.value_field is None:
        def convert(value, data):
            if type(value) is not dict:
                raise _GiveUp
            return dict(value)
    elif kind in _TEMPORAL_AND_TEXT:
        deserialize = field._deserialize

        def convert(value, data):
            return deserialize(value, attr, data)
    else:
        raise _Unsupported
    return convert


# --- dump ------------------------------------------------------------------------------------------------------
# The same rule for serialising: the quick path returns what ``schema.dump`` would, or gives up and
# ``schema.dump`` runs (raising what it raises). What is dumped is then loaded, so this path decides nothing
# about validity: it only has to give the same wire form.

def dumper(schema: Schema, money_field: type[fields.Field] | None = None) -> Callable[[Any], Any]:
    """``schema.dump``, quicker on the plain dicts, strings, ``Decimal``, ints and lists producers pass."""
    try:
        quick = _compile_dump(schema, money_field)
    except _Unsupported:
        return schema.dump

    def dump(obj):
        try:
            return quick(obj)
        except Exception:  # noqa: BLE001 - anything unexpected: marshmallow does it, as before
            return schema.dump(obj)

    return dump


def _compile_dump(schema: Schema, money_field) -> Callable[[Any], dict]:
    if any(schema._hooks.values()) or schema.many:
        raise _Unsupported
    entries = []
    for attr_name, field in schema.dump_fields.items():
        source = field.attribute or attr_name
        if "." in source:
            raise _Unsupported
        key = field.data_key if field.data_key is not None else attr_name
        entries.append((source, key, field.dump_default, _serializer(field, attr_name, money_field)))
    entries = tuple(entries)

    def quick(obj):
        if type(obj) is not dict:
            raise _GiveUp
        out = {}
        for source, key, dump_default, serialize in entries:
            # utils.get_value on a dict: the key, else an attribute of that name (never one of ours)
            value = obj[source] if source in obj else getattr(obj, source, missing)
            if value is missing:
                value = dump_default() if callable(dump_default) else dump_default
                if value is missing:
                    continue
            out[key] = None if value is None else serialize(value, obj)
        return out

    return quick


def _serializer(field: fields.Field, attr: str, money_field) -> Callable[[Any, Any], Any]:
    """``field._serialize(value, attr, obj)`` for a value other than None, else :class:`_GiveUp`."""
    kind = type(field)
    if kind is fields.String or kind is fields.UUID:
        def serialize(value, obj):
            if type(value) is str:
                return value
            if kind is fields.UUID and type(value) is uuid.UUID:
                return str(value)
            raise _GiveUp
    elif kind is fields.Integer and not field.as_string:
        def serialize(value, obj):
            if type(value) is not int:
                raise _GiveUp
            return value
    elif kind is fields.Boolean:
        def serialize(value, obj):
            if value is not True and value is not False:
                raise _GiveUp
            return value
    elif (kind is fields.Decimal or (money_field is not None and kind is money_field)) and not field.allow_nan:
        places, rounding, as_string = field.places, field.rounding, field.as_string

        def serialize(value, obj):
            kind_of_value = type(value)
            if kind_of_value is not decimal.Decimal and kind_of_value is not str and kind_of_value is not int:
                raise _GiveUp
            number = decimal.Decimal(str(value))
            if not number.is_finite():
                raise _GiveUp
            if places is not None:
                number = number.quantize(places, rounding=rounding)
            return format(number, "f") if as_string else number
    elif kind is fields.Nested:
        if field.many or field.schema.many:
            raise _Unsupported
        nested = _compile_dump(field.schema, money_field)

        def serialize(value, obj):
            return nested(value)
    elif kind is fields.List:
        inner = _serializer(field.inner, attr, money_field)

        def serialize(value, obj):
            if type(value) is not list:
                raise _GiveUp
            return [None if each is None else inner(each, obj) for each in value]
    elif kind is fields.Dict and field.key_field is None and field.value_field is None:
        def serialize(value, obj):
            if type(value) is not dict:
                raise _GiveUp
            return dict(value)
    elif kind in _TEMPORAL_AND_TEXT:
        generic = field._serialize

        def serialize(value, obj):
            return generic(value, attr, obj)
    else:
        raise _Unsupported
    return serialize
