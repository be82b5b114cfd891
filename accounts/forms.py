from django import forms


class LoginForm(forms.Form):
    email = forms.CharField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)


class SignupForm(LoginForm):
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput,
                               help_text="At least 8 characters, not a common password.")


class OtpForm(forms.Form):
    code = forms.CharField(max_length=32, label="Code from your app or a backup code",
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                         "autofocus": True}))


class StepUpForm(forms.Form):
    otp_code = forms.CharField(max_length=32, required=False, label="2FA code",
                               widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}))


class PasswordChangeForm(StepUpForm):
    current_password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)
    new_password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)
    field_order = ["current_password", "new_password", "otp_code"]


class EmailChangeForm(StepUpForm):
    new_email = forms.CharField(max_length=254, widget=forms.EmailInput)
    current_password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)
    field_order = ["new_email", "current_password", "otp_code"]


class ApiKeyForm(StepUpForm):
    name = forms.CharField(max_length=64)
    scopes = forms.MultipleChoiceField(
        choices=[("read", "Read"), ("trade", "Trade"), ("withdraw", "Withdraw")],
        widget=forms.CheckboxSelectMultiple, required=False, initial=["read"])
    ip_allowlist = forms.CharField(max_length=2000, required=False,
                                   label="IP allow-list (space or comma separated)")
    expires_at = forms.DateTimeField(required=False, label="Expires at (UTC, optional)",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    field_order = ["name", "scopes", "ip_allowlist", "expires_at", "otp_code"]


class KycTier1Form(forms.Form):
    legal_name = forms.CharField(max_length=200)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    country = forms.CharField(max_length=2, min_length=2, label="Country (ISO code, e.g. FR)")
    address = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class KycTier2Form(forms.Form):
    id_document = forms.FileField(label="Identity document (JPEG, PNG or PDF)")
    selfie = forms.FileField(label="Selfie holding the document (JPEG or PNG)")
