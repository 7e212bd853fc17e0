"""meterd's Python client: UsageTracker (non-blocking metering from inside a service), Client
(typed quota, usage and invoice calls) and MeteringMiddleware (ASGI: FastAPI, Starlette)."""
from .asgi import MeteringMiddleware
from .client import Client, event_body
from .errors import MeterdError, MeterdUnavailable, QuotaExceeded
from .tracker import TrackerStats, UsageTracker
from .models import (BatchResult, Invoice, LineItem, QuotaMeter, QuotaSettings, QuotaStatus, TrackResult, Usage,
                    UsageRow)

__version__ = "0.1.0"
__all__ = ["Client", "UsageTracker", "TrackerStats", "MeteringMiddleware", "MeterdError", "MeterdUnavailable",
           "QuotaExceeded", "BatchResult", "Invoice", "LineItem", "QuotaMeter", "QuotaSettings", "QuotaStatus",
           "TrackResult", "Usage", "UsageRow", "event_body"]
