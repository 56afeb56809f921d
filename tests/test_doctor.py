"""The set-up checklist (notebook 00) and the database questions notebooks ask."""
import pytest
from django.db import transaction

from notebook_runtime import check_setup, unapplied_migrations, waiting_for_commit
from notebook_runtime.doctor import pinned_packages
from social.consumers import LivePostConsumer
from social.models import Post


@pytest.mark.django_db
def test_the_checklist_passes_on_a_machine_set_up_by_make():
    report = check_setup()
    assert report.ok, str(report)
    assert [finding.name for finding in report.findings] == [
        "Python",
        "Pinned packages",
        "Versions",
        "Database",
    ]
    assert str(report).startswith("✔ Python: ")


def test_a_pin_that_differs_is_named_with_its_fix(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("django==1.0\n    # via -r requirements.in\nnot-installed-pkg==2.0\n")
    finding = pinned_packages(requirements)
    assert not finding.ok
    assert "2 of 2 differ" in finding.detail
    assert "django 5.2" in finding.detail and "(pinned 1.0)" in finding.detail
    assert "not-installed-pkg missing (pinned 2.0)" in finding.detail
    assert "fix: make install" in str(finding)


@pytest.mark.django_db
def test_the_database_has_no_unapplied_migration():
    assert unapplied_migrations() == []


@pytest.mark.django_db(transaction=True)
def test_waiting_for_commit_lists_the_observers_callbacks_until_the_commit(django_user_model):
    observer = LivePostConsumer.post_change_handler
    author = django_user_model.objects.create_user("alice")
    with transaction.atomic():
        Post.objects.create(author=author, body="queued #python")
        waiting = waiting_for_commit(observer)
    assert "send_prepared_messages" in waiting
    assert waiting_for_commit(observer) == []
