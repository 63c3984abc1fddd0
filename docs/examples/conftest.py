"""The example Django project is tested by Django's own runner (tests/docs/test_django_app.py)."""

collect_ignore_glob = ["django_app/*"]
