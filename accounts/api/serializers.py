from django.conf import settings
from rest_framework import serializers

from accounts.models import ApiKey, KycDocument, KycSubmission, SecurityEvent


class SignupIn(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class LoginIn(SignupIn):
    pass


class OtpCodeIn(serializers.Serializer):
    code = serializers.CharField(max_length=32)


class StepUpIn(serializers.Serializer):
    otp_code = serializers.CharField(max_length=32, required=False, allow_blank=True)


class VerifyEmailIn(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)


class PasswordResetIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordChangeIn(StepUpIn):
    current_password = serializers.CharField(max_length=256, trim_whitespace=False)
    new_password = serializers.CharField(max_length=256, trim_whitespace=False)


class EmailChangeIn(StepUpIn):
    current_password = serializers.CharField(max_length=256, trim_whitespace=False)
    new_email = serializers.CharField(max_length=254)


class ApiKeyIn(StepUpIn):
    name = serializers.CharField(max_length=64)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=["read", "trade", "withdraw"]),
        max_length=3, allow_empty=True, default=list,
    )
    ip_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=30, default=list
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyOut(serializers.ModelSerializer):
    revoked = serializers.BooleanField(source="is_revoked")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "key", "scopes", "ip_allowlist", "expires_at", "revoked",
                  "revoked_at", "last_used_at", "created"]


class KycSubmitIn(serializers.Serializer):
    tier = serializers.ChoiceField(choices=[1, 2])
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    address = serializers.CharField(max_length=500, required=False, allow_blank=True)
    id_document = serializers.FileField(required=False, max_length=200)
    selfie = serializers.FileField(required=False, max_length=200)

    def validate(self, attrs):
        limit = settings.KYC_UPLOAD_MAX_BYTES
        for name in ("id_document", "selfie"):
            upload = attrs.get(name)
            if upload is not None and upload.size > limit:
                raise serializers.ValidationError(
                    {name: serializers.ErrorDetail("The file is too large.",
                                                   code="file_too_large")})
        return attrs


class KycDocumentOut(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = KycDocument
        fields = ["id", "kind", "content_type", "size", "created", "url"]

    def get_url(self, document) -> str:
        return f"/api/v1/kyc/documents/{document.pk}"


class KycSubmissionOut(serializers.ModelSerializer):
    documents = KycDocumentOut(many=True, read_only=True)

    class Meta:
        model = KycSubmission
        fields = ["id", "tier", "status", "reason", "legal_name", "date_of_birth", "country",
                  "created", "reviewed_at", "documents"]


class SecurityEventOut(serializers.ModelSerializer):
    class Meta:
        model = SecurityEvent
        fields = ["id", "user_id", "kind", "ip", "user_agent", "detail", "created"]
