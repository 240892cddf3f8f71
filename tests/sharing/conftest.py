import pytest

from config.celery import app


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Operation alert mails are a Celery task started on commit; run it in-process so its effects can be checked."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
