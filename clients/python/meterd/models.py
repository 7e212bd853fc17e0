"""meterd's answers as typed objects: every quantity and amount a decimal.Decimal, every
instant a timezone-aware datetime. Each keeps meterd's whole answer in `raw`."""
import dataclasses
import datetime
import decimal
from typing import Dict, List, Optional


def dec(value) -> Optional[decimal.Decimal]:
    return None if value is None else decimal.Decimal(value)


def when(value) -> Optional[datetime.datetime]:
    if value is None:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclasses.dataclass
class TrackResult:
    id: str
    status: str  # "accepted" or "duplicate"
    tenant_id: str
    event_type: str
    quantity: decimal.Decimal
    timestamp: datetime.datetime
    raw: dict = dataclasses.field(repr=False)

    @property
    def duplicate(self):
        return self.status == "duplicate"

    @classmethod
    def from_json(cls, j):
        return cls(j["id"], j["status"], j["tenant_id"], j["event_type"], dec(j["quantity"]), when(j["timestamp"]), j)


@dataclasses.dataclass
class BatchResult:
    accepted: int
    duplicates: int
    rejected: int
    results: List[dict]  # per event: index, id, status, error {field, detail}
    raw: dict = dataclasses.field(repr=False)

    @classmethod
    def from_json(cls, j):
        return cls(int(j["accepted"]), int(j["duplicates"]), int(j["rejected"]), j["results"], j)


@dataclasses.dataclass
class QuotaMeter:
    used: decimal.Decimal
    limit: Optional[decimal.Decimal]  # None: no limit
    remaining: Optional[decimal.Decimal]
    exceeded: bool
    at_limit: bool

    @classmethod
    def from_json(cls, j):
        return cls(dec(j["used"]), dec(j.get("limit")), dec(j.get("remaining")), bool(j["exceeded"]),
                   bool(j.get("at_limit", False)))


@dataclasses.dataclass
class QuotaStatus:
    tenant_id: str
    within_quota: bool
    at_limit: bool
    enforcement: str  # "soft" or "hard"
    time_zone: str
    period_start: datetime.datetime
    resets_at: datetime.datetime
    quotas: Dict[str, QuotaMeter]  # per day: queries, tokens, storage_gb
    monthly: Dict[str, QuotaMeter]
    monthly_resets_at: Optional[datetime.datetime]
    raw: dict = dataclasses.field(repr=False)

    @property
    def hard(self):
        return self.enforcement == "hard"

    @classmethod
    def from_json(cls, j):
        monthly = j.get("monthly") or {}
        return cls(j["tenant_id"], bool(j["within_quota"]), bool(j["at_limit"]), j["enforcement"], j["time_zone"],
                   when(j["period_start"]), when(j["resets_at"]),
                   {k: QuotaMeter.from_json(v) for k, v in j["quotas"].items()},
                   {k: QuotaMeter.from_json(v) for k, v in (monthly.get("quotas") or {}).items()},
                   when(monthly.get("resets_at")), j)


@dataclasses.dataclass
class QuotaSettings:
    tenant_id: str
    enforcement: str
    time_zone: str
    limits: Dict[str, Optional[decimal.Decimal]]  # queries_per_day, tokens_per_month, storage_gb, ...
    raw: dict = dataclasses.field(repr=False)

    LIMITS = ("queries_per_day", "queries_per_month", "tokens_per_day", "tokens_per_month", "storage_gb",
              "storage_gb_per_month")

    @classmethod
    def from_json(cls, j):
        return cls(j["tenant_id"], j["enforcement"], j["time_zone"], {k: dec(j.get(k)) for k in cls.LIMITS}, j)


@dataclasses.dataclass
class UsageRow:
    event_type: str
    quantity: decimal.Decimal
    events: int
    start: Optional[datetime.datetime] = None  # buckets only
    group: Optional[str] = None  # groups only

    @classmethod
    def from_json(cls, j):
        return cls(j["event_type"], dec(j["quantity"]), int(j["events"]), when(j.get("start")), j.get("group"))


@dataclasses.dataclass
class Usage:
    tenant_id: str
    window: str
    start: datetime.datetime
    end: datetime.datetime
    buckets: List[UsageRow]
    totals: List[UsageRow]
    groups: List[UsageRow]
    raw: dict = dataclasses.field(repr=False)

    def total(self, event_type) -> decimal.Decimal:
        return sum((r.quantity for r in self.totals if r.event_type == event_type), decimal.Decimal(0))

    @classmethod
    def from_json(cls, j):
        rows = lambda key: [UsageRow.from_json(r) for r in (j.get(key) or [])]  # noqa: E731
        return cls(j["tenant_id"], j["window"], when(j["from"]), when(j["to"]), rows("buckets"), rows("totals"),
                   rows("groups"), j)


@dataclasses.dataclass
class LineItem:
    event_type: str
    description: str
    quantity: decimal.Decimal
    unit_price: decimal.Decimal
    amount: decimal.Decimal
    group: Optional[str]
    raw: dict = dataclasses.field(repr=False)

    @classmethod
    def from_json(cls, j):
        return cls(j["event_type"], j.get("description", ""), dec(j["quantity"]), dec(j["unit_price"]),
                   dec(j["amount"]), j.get("group"), j)


@dataclasses.dataclass
class Invoice:
    invoice_number: str
    tenant_id: str
    plan: str
    year: int
    month: int
    currency: str
    line_items: List[LineItem]
    subtotal: decimal.Decimal
    total: decimal.Decimal
    status: str  # "draft" or "finalized"
    period_start: datetime.datetime
    period_end: datetime.datetime
    raw: dict = dataclasses.field(repr=False)

    @classmethod
    def from_json(cls, j):
        return cls(j["invoice_number"], j["tenant_id"], j["plan"], int(j["year"]), int(j["month"]), j["currency"],
                   [LineItem.from_json(li) for li in j["line_items"]], dec(j["subtotal"]), dec(j["total"]),
                   j["status"], when(j["period_start"]), when(j["period_end"]), j)
