"""Serializer bases shared by every app's API.

Every input serializer of the API derives from ``InputSerializer`` (or ``ModelInputSerializer``),
so three rules hold for every write endpoint without a line in the apps:

- unknown keys are refused by name (``"targetState": ["Unknown field."]``);
- JSON types are strict: DRF converts silently (``12`` → ``"12"`` for a string field, ``"5"`` →
  ``5`` for an integer, ``"yes"`` → ``True``, an integer → a UUID); here a value of the wrong JSON
  type is a ``VALIDATION_ERROR`` naming the field (``null`` stays the field's ``allow_null``);
- free text has a size cap: a string field declared without ``max_length`` gets
  ``TEXT_MAX_LENGTH`` (a field that needs more declares its own, e.g. ``ebcl_source``), and the
  cap is a validator, so the OpenAPI schema publishes it as ``maxLength``.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping

from django.core.validators import MaxLengthValidator
from rest_framework import serializers

# Characters. Documented in the README (API, "Limits"); bodies are bounded anyway by
# OCX_MAX_BODY_BYTES, this keeps one text field from taking all of it.
TEXT_MAX_LENGTH = 10_000

_NOT_STRING = "Not a valid string."
_NOT_INTEGER = "A valid integer is required."
_NOT_NUMBER = "A valid number is required."
_NOT_BOOLEAN = "Must be a valid boolean."
_NOT_LIST = "Expected a list of items."
_NOT_OBJECT = "Expected a JSON object."


def _wrong_type(field: serializers.Field, value):
    """The message for ``value`` when it has the wrong JSON type for ``field``, else None.

    Returns a list of messages, or a ``{index/key: messages}`` dict for a list's or a dict's
    items (the handler flattens it to ``field[0]``)."""
    if value is None:
        return None  # allow_null decides (DRF's own message when it is not allowed)
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else [_NOT_BOOLEAN]
    if isinstance(value, bool):  # bool is an int subclass: a JSON true is not a number or a string
        if isinstance(field, serializers.IntegerField):
            return [_NOT_INTEGER]
        if isinstance(field, serializers.FloatField | serializers.DecimalField):
            return [_NOT_NUMBER]
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) else [_NOT_INTEGER]
    if isinstance(field, serializers.FloatField):
        return None if isinstance(value, int | float) else [_NOT_NUMBER]
    if isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField):
        if all(isinstance(key, str) for key in field.choices) and not isinstance(value, str):
            return [_NOT_STRING]
        return None
    if isinstance(field, serializers.CharField):
        return None if isinstance(value, str) else [_NOT_STRING]
    if isinstance(field, serializers.UUIDField):  # DRF turns an integer into a UUID
        return None if isinstance(value, str | uuid.UUID) else [_NOT_STRING]
    if isinstance(field, serializers.DateTimeField | serializers.DateField | serializers.TimeField):
        # Python callers may pass the value itself; JSON gives strings.
        return None if isinstance(value, str | datetime.date | datetime.time) else [_NOT_STRING]
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return [_NOT_LIST]
        items = {i: _wrong_type(field.child, item) for i, item in enumerate(value)}
        return {i: message for i, message in items.items() if message} or None
    if isinstance(field, serializers.DictField):
        if not isinstance(value, dict):
            return [_NOT_OBJECT]
        items = {key: _wrong_type(field.child, item) for key, item in value.items()}
        return {key: message for key, message in items.items() if message} or None
    return None


def _cap_text(field: serializers.Field) -> None:
    if isinstance(field, serializers.ListField | serializers.DictField):
        _cap_text(field.child)
    elif isinstance(field, serializers.CharField) and field.max_length is None and not field.read_only:
        field.max_length = TEXT_MAX_LENGTH
        message = field.error_messages["max_length"].format(max_length=TEXT_MAX_LENGTH)
        field.validators.append(MaxLengthValidator(TEXT_MAX_LENGTH, message=message))


class StrictInputMixin:
    """Refuse keys the serializer does not declare and values of the wrong JSON type, instead of
    silently ignoring or converting them; cap free text (see the module docstring).

    An integrator who misspells ``target_state`` as ``targetState`` gets told so.
    """

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            _cap_text(field)
        return fields

    def to_internal_value(self, data):
        type_errors = {}
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
            for name, field in self.fields.items():
                if name in data and not field.read_only:
                    message = _wrong_type(field, data[name])
                    if message:
                        type_errors[name] = message
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not type_errors:
                raise
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise serializers.ValidationError({**detail, **type_errors}) from None
        if type_errors:
            raise serializers.ValidationError(type_errors)
        return value


class InputSerializer(StrictInputMixin, serializers.Serializer):
    pass


class ModelInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    pass
