"""The runtime monitor as an HTTP service: ``amlas monitor serve`` (the ``monitor`` extra).

Thin: it parses and validates requests, calls :class:`amlas.monitor.MonitoredModel`, and
appends flagged inputs to the [DD] field log. See :func:`create_app`.
"""

from amlas.server._app import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_SAMPLES, CheckRequest, create_app

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_SAMPLES", "CheckRequest", "create_app"]
