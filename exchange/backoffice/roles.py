"""Staff roles: one Django group per role, each a fixed set of permissions.

The groups are created by migration ``exchange.0003_roles`` and kept in sync after every
``migrate`` (``roles_sync`` on ``post_migrate``), so permissions of models that other apps
add later are granted without a new migration here. Permissions of models that do not
exist (yet) are skipped. Superusers have every permission and need no group.
"""

from __future__ import annotations

SUPPORT = "support"
COMPLIANCE = "compliance"
FINANCE = "finance"
OPERATIONS = "operations"

_COMMON = [
    "exchange.dashboard_view",
    "accounts.view_user",
    "exchange.user_overview",
]

# "app_label.codename"; a codename whose model does not exist is ignored.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    SUPPORT: [
        *_COMMON,
        "exchange.user_freeze",
        "accounts.view_securityevent",
        "accounts.view_apikey",
        "accounts.view_kycsubmission",
        "orders.view_order",
        "marketdata.view_trade",
        "wallets.view_balance",
    ],
    COMPLIANCE: [
        *_COMMON,
        "exchange.kyc_decide",
        "exchange.kyc_document_view",
        "accounts.review_kyc",
        "accounts.view_kycsubmission",
        "accounts.view_kycdocument",
        "accounts.view_securityevent",
        "exchange.view_staffauditlog",
    ],
    FINANCE: [
        *_COMMON,
        "exchange.withdrawal_decide",
        "exchange.adjustment_post",
        "exchange.export_staff",
        "wallets.view_asset",
        "wallets.view_balance",
        "wallets.view_withdrawal",
        "wallets.view_deposit",
        "wallets.view_journalentry",
        "wallets.view_ledgerline",
        "wallets.view_ledgeraccount",
        "wallets.view_reconciliationrun",
        "marketdata.view_trade",
    ],
    OPERATIONS: [
        "exchange.dashboard_view",
        "exchange.market_control",
        "marketdata.view_market",
        "marketdata.add_market",
        "marketdata.change_market",
        "marketdata.view_trade",
        "marketdata.view_candle",
        "orders.view_order",
        "matching.view_marketcheckpoint",
        "wallets.view_asset",
    ],
}


def roles_sync(*, apps=None, stdout=None) -> dict[str, int]:
    """Create the role groups and set each one's permissions to exactly its list.

    ``apps`` is a migration state registry (inside a migration) or None for the live one.
    Creates missing permission rows first. Returns {group name: permissions granted}.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    registry = apps or global_apps
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=registry)
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")
    granted = {}
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for name in names:
            app_label, codename = name.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)
        granted[role] = len(perms)
    return granted


def roles_sync_on_post_migrate(sender, **kwargs) -> None:
    """post_migrate receiver; runs once per migrate (for the exchange app's signal)."""
    if sender.label != "exchange":
        return
    roles_sync(apps=None)
