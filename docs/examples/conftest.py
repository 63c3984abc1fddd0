"""
Collection of the examples by pytest (``--doctest-modules`` imports every module).

The Django project is tested by Django's own runner (``tests/docs/test_django_app.py``);
the FastAPI app needs FastAPI and pydantic, which only the dev group installs.
"""

import importlib.util

collect_ignore_glob = ["django_app/*"]
if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("pydantic") is None:
    collect_ignore_glob.append("fastapi_app.py")
