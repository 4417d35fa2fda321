# The audit journal moves from accounts to core without touching the table: its rows, indexes and
# append-only triggers stay as they are (the model keeps db_table "accounts_auditentry").

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    # Permissions granted on the journal (e.g. to support staff) follow it to its new app.
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label="accounts", model="auditentry"
    ).update(app_label="core")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label="core", model="auditentry"
    ).update(app_label="accounts")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("accounts", "0005_outbound_message"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='время')),
                        ('event', models.CharField(choices=[('login', 'Вход в систему'), ('login_failed', 'Неудачная попытка входа'), ('lockout', 'Блокировка после неудачных попыток'), ('logout', 'Выход'), ('logout_everywhere', 'Выход на всех устройствах'), ('session_expired', 'Сеанс завершён по таймауту'), ('code_sent', 'Отправлен одноразовый код'), ('code_failed', 'Неверный одноразовый код'), ('phone_confirmed', 'Телефон подтверждён'), ('totp_enrolled', 'Подключено приложение-аутентификатор'), ('totp_removed', 'Отключено приложение-аутентификатор'), ('password_changed', 'Пароль изменён'), ('password_reset_requested', 'Запрошено восстановление пароля'), ('password_reset', 'Пароль восстановлен'), ('registered', 'Регистрация учётной записи'), ('certificate_login', 'Вход по электронной подписи'), ('certificate_refused', 'Отказ во входе по электронной подписи'), ('data_viewed', 'Просмотр персональных данных'), ('data_changed', 'Изменение данных'), ('export', 'Выгрузка данных')], max_length=32, verbose_name='событие')),
                        ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP-адрес')),
                        ('user_agent', models.CharField(blank=True, max_length=300, verbose_name='браузер')),
                        ('object_type', models.CharField(blank=True, max_length=64, verbose_name='объект')),
                        ('object_id', models.CharField(blank=True, max_length=64, verbose_name='идентификатор объекта')),
                        ('details', models.JSONField(blank=True, default=dict, verbose_name='подробности')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='кто')),
                        ('subject', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to=settings.AUTH_USER_MODEL, verbose_name='чья запись')),
                    ],
                    options={
                        'verbose_name': 'запись журнала аудита',
                        'verbose_name_plural': 'журнал аудита',
                        'ordering': ['-created_at', '-id'],
                        'db_table': 'accounts_auditentry',
                        'indexes': [models.Index(fields=['subject', '-created_at'], name='audit_subject_idx')],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
