"""Errors raised by the client, carrying meterd's problem body (RFC 9457)."""


class MeterdError(Exception):
    """meterd answered with an error. `problem` is its JSON problem body; `field` names the
    request field at fault, when meterd said which."""

    def __init__(self, status, problem, retry_after=None):
        self.status = status
        self.problem = problem if isinstance(problem, dict) else {"detail": str(problem)}
        self.title = self.problem.get("title", "")
        self.detail = self.problem.get("detail", "")
        self.field = self.problem.get("field")
        self.retry_after = retry_after
        super().__init__("meterd answered %s: %s" % (status, self.detail or self.title))


class QuotaExceeded(MeterdError):
    """429: a hard quota (or the tenant's ingest rate limit) refused the request.
    `retry_after` is the number of seconds meterd said to wait."""


class MeterdUnavailable(MeterdError):
    """meterd could not be reached, or answered 503 (stopping, overloaded, disk write failed)."""

    def __init__(self, detail, status=None, problem=None, retry_after=None):
        super().__init__(status, problem or {"detail": detail}, retry_after)
        if status is None:
            self.args = (detail,)
