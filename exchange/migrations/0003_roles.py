"""Staff roles as groups: support, compliance, finance, operations.

Permissions of models other apps add later are granted by ``roles_sync`` on every
post_migrate (see exchange/backoffice/roles.py)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from exchange.backoffice.roles import roles_sync

    roles_sync(apps=apps)


def delete_roles(apps, schema_editor):
    from exchange.backoffice.roles import ROLE_PERMISSIONS

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0002_staffauditlog_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
