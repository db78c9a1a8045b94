from django.utils.translation import gettext as _
from rest_framework import serializers

from openvend.accounts.models import Role, User
from openvend.accounts.selectors import assignable_roles
from openvend.api.viewsets import ScopedRelatedField
from openvend.merchants.models import DeviceGroup, Merchant, OrgUnit, Site


class AssignableRoleField(ScopedRelatedField):
    """Roles the caller may hand out: a role granting more than the caller holds reads as unknown."""

    def get_queryset(self):  # type: ignore[no-untyped-def]
        request = self.context.get("request")
        return assignable_roles(request.user if request else None)


class RoleSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    permissions = serializers.ListField(child=serializers.CharField(max_length=80), required=False)
    org_units = ScopedRelatedField(queryset=OrgUnit.objects.all(), many=True, required=False)
    sites = ScopedRelatedField(queryset=Site.objects.all(), many=True, required=False)
    device_groups = ScopedRelatedField(queryset=DeviceGroup.objects.all(), many=True, required=False)
    merchant = ScopedRelatedField(queryset=Merchant.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Role
        # Uniqueness per merchant is checked by the service, which knows the merchant.
        validators: list = []
        fields = [
            "id",
            "merchant",
            "code",
            "name",
            "display_name",
            "is_preset",
            "permissions",
            "data_scope",
            "org_units",
            "sites",
            "device_groups",
        ]
        read_only_fields = ["is_preset"]


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})
    roles = AssignableRoleField(queryset=Role.objects.all(), many=True, required=False)
    org_unit = ScopedRelatedField(queryset=OrgUnit.objects.all(), required=False, allow_null=True)
    merchant = ScopedRelatedField(queryset=Merchant.objects.all(), required=False, allow_null=True)
    is_frozen = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "merchant",
            "username",
            "password",
            "first_name",
            "email",
            "phone",
            "language",
            "org_unit",
            "roles",
            "is_active",
            "is_frozen",
            "frozen_reason",
            "last_login",
            "date_joined",
        ]
        read_only_fields = ["is_active", "frozen_reason", "last_login", "date_joined"]

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": [_("This field is required.")]})
        return attrs


class FreezeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class PasswordResetSerializer(serializers.Serializer):
    new_password = serializers.CharField(required=False, allow_blank=True, default="")


class PasswordResetResultSerializer(serializers.Serializer):
    password = serializers.CharField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
