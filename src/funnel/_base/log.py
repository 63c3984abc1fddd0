"""
Logging and tracing: funnel's loggers, and OpenTelemetry spans when it is there.

Every logger is named under ``funnel.`` (``funnel.engine.transitions``,
``funnel.io.definition``) and the package logger ``funnel`` has a
:class:`logging.NullHandler`, so nothing is printed unless your application
configures logging. Messages and ``extra`` fields name records by id, events,
stages, criteria, counts and files: never a contact's name, email, phone or a
note.

Spans: when the ``opentelemetry`` package can be imported *and* the application
has installed a tracer provider (``opentelemetry.trace.set_tracer_provider``),
each transition is a span ``funnel.transition``. Without the package nothing of
it is imported; without a provider no span is started, not even a no-op one.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

__all__ = ("get_logger", "tracer")

#: The package logger; every funnel logger is its child.
PACKAGE_LOGGER = logging.getLogger("funnel")
PACKAGE_LOGGER.addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """
    The logger of module *name* (a ``funnel.`` name), under the package logger.

    >>> get_logger("funnel.engine.transitions").name
    'funnel.engine.transitions'
    """
    if name != "funnel" and not name.startswith("funnel."):
        name = f"funnel.{name}"
    return logging.getLogger(name)


#: ``None`` until the first call of :func:`tracer`; then whether opentelemetry is importable.
_OTEL: bool | None = None
_TRACE: Any = None  # the opentelemetry.trace module, once imported
_PROVIDER: Any = None  # the provider _TRACER comes from
_TRACER: Any = None


def tracer() -> Any:
    """
    funnel's OpenTelemetry tracer, or ``None`` when no span should be started.

    ``None`` when ``opentelemetry`` is not installed (looked up once, never
    imported then) or no tracer provider has been set (the API's default
    provider makes only no-op spans, so funnel skips them).
    """
    global _OTEL, _TRACE, _PROVIDER, _TRACER
    if _OTEL is None:
        _OTEL = _import_otel()
    if not _OTEL:
        return None
    # The API's global (None until the application sets a provider) is read directly:
    # get_tracer_provider() looks at os.environ on every call while none is set, which
    # would cost a transition more than a microsecond.
    provider: Any = getattr(_TRACE, "_TRACER_PROVIDER", _MISSING)
    if provider is _MISSING:  # pragma: no cover - another API version: the public call
        provider = _TRACE.get_tracer_provider()
    if provider is None:
        return None
    if provider is not _PROVIDER:
        _PROVIDER = provider
        _TRACER = (
            None
            if isinstance(provider, _TRACE.ProxyTracerProvider | _TRACE.NoOpTracerProvider)
            else provider.get_tracer("funnel")
        )
    return _TRACER


_MISSING = object()


def _import_otel() -> bool:
    """Import ``opentelemetry.trace`` if it is installed; whether it is."""
    global _TRACE
    if importlib.util.find_spec("opentelemetry") is None:
        return False
    try:
        from opentelemetry import trace
    except ImportError:  # a namespace package without the API (an exporter alone)
        return False
    _TRACE = trace
    # A provider named in the environment (OTEL_PYTHON_TRACER_PROVIDER) is loaded by
    # the API's first call, which then sets the global read above.
    trace.get_tracer_provider()
    return True
