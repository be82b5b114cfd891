"""Balance rows are updated by every settlement batch: leave 30 % free space in each
page so that updated versions stay on their page (HOT, no index writes), and drop the
single-column user_id index that the unique (user, asset) index already serves."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0004_ledger_statement_check'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='balance',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='balances', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunSQL("ALTER TABLE wallets_balance SET (fillfactor = 70)",
                          "ALTER TABLE wallets_balance RESET (fillfactor)"),
    ]
