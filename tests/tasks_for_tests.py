"""Tasks that exist only for the test suite."""

from django.tasks import task


@task()
def noop() -> None:
    return None
