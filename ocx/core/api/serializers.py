"""Serializer bases shared by every app's API."""

from rest_framework import serializers


class StrictInputMixin:
    """Refuse keys the serializer does not declare, instead of silently ignoring them.

    An integrator who misspells ``target_state`` as ``targetState`` gets told so.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class InputSerializer(StrictInputMixin, serializers.Serializer):
    pass


class ModelInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    pass
