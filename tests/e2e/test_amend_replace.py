"""End-to-end: amending a stored event and replacing a time range (docs/corrections.md) through
the real binary: what usage and invoices then say, idempotency, all-or-none refusals, the audit
trail, tenant keys, and the same answers after a restart."""
import shutil
import tempfile

from harness import Meterd, main
from test_auth import bearer, keys
from test_corrections import CorrectionCase, ev


class AmendTest(CorrectionCase):
    def amend(self, event_id, set_, correction_id=None, tenant="acme"):
        body = {"tenant_id": tenant, "id": event_id, "set": set_, "reason": "client sent bytes, not GB"}
        if correction_id:
            body["correction_id"] = correction_id
        return self.m.post("/v1/events/amend", body)

    # Verifies an amend replaces quantity, type or metadata in every reading, once, and a
    # retry of the same correction changes nothing while another correction of it is refused.
    def test_amend_changes_every_reading_once(self):
        m = self.m
        m.post("/v1/events", [ev("q1", "query", 100), ev("t1", "input_tokens", 2000),
                              ev("u1", "active_users", 1, user_id="alice"),
                              ev("u2", "active_users", 1, user_id="bob")])
        status, _, body = self.amend("q1", {"quantity": 10}, "fix-q")
        self.assertEqual(status, 200, body)
        self.assertEqual((body["status"], body["cancelled"]["quantity"], body["replacement"]["quantity"],
                          body["replacement"]["id"], body["replacement"]["timestamp"]),
                         ("amended", "100", "10", "fix-q", "2026-12-01T10:00:00.000Z"))
        self.assertEqual(self.totals()["query"], ("10", 1))
        again = self.amend("q1", {"quantity": 11}, "fix-q")  # resent, its body since changed
        self.assertEqual((again[0], again[2]["status"], again[2]["replacement"]["quantity"]),
                         (200, "duplicate", "10"), again)  # what the correction stored
        other = self.amend("q1", {"quantity": 5}, "fix-other")
        self.assertEqual(other[0], 409, other)
        self.assertIn("already corrected by fix-q", other[2]["detail"])
        self.assertEqual(self.totals()["query"], ("10", 1))
        # The replacement is an event like any other: it can be amended in turn.
        self.assertEqual(self.amend("fix-q", {"quantity": "12.5"}, "fix-q2")[0], 200)
        self.assertEqual(self.totals()["query"], ("12.5", 1))

        self.assertEqual(self.amend("t1", {"event_type": "output_tokens", "id": "t1-out"})[0], 200)
        totals = self.totals()
        self.assertEqual(totals["input_tokens"], ("0", 0))  # its rollup remains, summing to nothing
        self.assertEqual(totals["output_tokens"], ("2000", 1))
        self.assertEqual(self.lines()["active_users"], "2")
        self.assertEqual(self.amend("u1", {"metadata": {"user_id": "bob"}})[0], 200)
        self.assertEqual(self.lines()["active_users"], "1")

        trail = m.get("/v1/tenants/acme/corrections")[2]["corrections"]
        amends = {c["cancels"]: c["correction"] for c in trail}
        self.assertEqual(amends["q1"]["kind"], "amend")
        self.assertEqual(amends["q1"]["replaced_by"], "fix-q")
        self.assertEqual(amends["t1"]["replaced_by"], "t1-out")

        m.stop()
        self.m = self.start()
        self.assertEqual(self.totals()["query"], ("12.5", 1))
        self.assertEqual(self.lines()["active_users"], "1")
        self.assertEqual(self.amend("q1", {"quantity": 10}, "fix-q")[2]["status"], "duplicate")

    # Verifies what an amend refuses, with nothing changed.
    def test_amend_refusals_change_nothing(self):
        m = self.m
        m.post("/v1/events", [ev("q1", "query", 100), ev("q2", "query", 1)])
        cases = [("nope", {"quantity": 1}, 404, "id"),
                 ("q1", {"colour": 1}, 400, "set.colour"),
                 ("q1", {"quantity": -1}, 400, "set.quantity"),
                 ("q1", {"event_type": "a b"}, 400, "set.event_type"),
                 ("q1", {}, 400, "set"),
                 ("q1", [1], 400, "set"),
                 ("q1", {"id": "q2"}, 409, None)]  # the new event's id is in use
        for event_id, set_, code, field in cases:
            status, _, body = self.amend(event_id, set_)
            self.assertEqual(status, code, (event_id, set_, body))
            if field:
                self.assertEqual(body["field"], field, body)
        for bad in ({"id": "q1"}, {"id": "q1", "set": {"quantity": 1}, "x": 1}, {"set": {"quantity": 1}}):
            self.assertEqual(m.post("/v1/events/amend", dict(bad, tenant_id="acme"))[0], 400, bad)
        self.assertEqual(self.totals()["query"], ("101", 2))
        self.assertEqual(m.get("/v1/tenants/acme/corrections")[2]["corrections"], [])


class ReplaceTest(CorrectionCase):
    def replace(self, events, correction_id=None, **extra):
        body = dict({"event_type": "query", "from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z",
                     "events": events, "reason": "backfilled from the gateway logs"}, **extra)
        if correction_id:
            body["correction_id"] = correction_id
        return self.m.post("/v1/tenants/acme/replace", body)

    # Verifies a range is replaced whole (other days and types untouched), once, and again by a
    # later correction; the same after a restart.
    def test_replace_a_day(self):
        m = self.m
        m.post("/v1/events", [ev("a", "query", 100), ev("b", "query", 50), ev("c", "query", 7),
                              ev("d", "query", 3, day="02"), ev("t", "input_tokens", 9)])
        self.assertEqual(self.totals()["query"], ("160", 4))
        day = [{"id": "log-1", "quantity": 20, "timestamp": "2026-12-01T09:00:00Z"},
               {"quantity": 5, "timestamp": "2026-12-01T23:59:59Z", "metadata": {"source": "gateway"}}]
        status, _, body = self.replace(day, "day-1")
        self.assertEqual(status, 200, body)
        self.assertEqual((body["status"], body["withdrawn"], body["added"]),
                         ("replaced", {"events": 3, "quantity": "157"}, {"events": 2, "quantity": "25"}))
        self.assertEqual(self.totals()["query"], ("28", 3))
        self.assertEqual(self.totals()["input_tokens"], ("9", 1))
        again = self.replace(day, "day-1")
        self.assertEqual((again[0], again[2]["status"]), (200, "duplicate"), again)
        self.assertEqual(self.totals()["query"], ("28", 3))
        trail = m.get("/v1/tenants/acme/corrections")[2]["corrections"]
        self.assertEqual(sorted(c["cancels"] for c in trail), ["a", "b", "c"])
        self.assertEqual({c["correction"]["kind"] for c in trail}, {"replace"})

        m.stop()
        self.m = m = self.start()
        self.assertEqual(self.totals()["query"], ("28", 3))
        status, _, body = self.replace([], "day-1-empty")
        self.assertEqual((status, body["withdrawn"]["events"], body["added"]["events"]), (200, 2, 0), body)
        self.assertEqual(self.totals()["query"], ("3", 1))
        self.assertEqual(self.lines()["query"], "3")

    # Verifies what a replace refuses, with nothing changed.
    def test_replace_refusals_change_nothing(self):
        m = self.m
        m.post("/v1/events", [ev("a", "query", 100)])
        inside = {"quantity": 1, "timestamp": "2026-12-01T01:00:00Z"}
        cases = [([dict(inside, timestamp="2026-12-02T00:00:00Z")], {}, "events[0].timestamp"),
                 ([dict(inside, event_type="input_tokens")], {}, "events[0].event_type"),
                 ([dict(inside, tenant_id="globex")], {}, "events[0].tenant_id"),
                 ([dict(inside, quantity=-1)], {}, "events[0].quantity"),
                 ([dict(inside, id="x"), dict(inside, id="x")], {}, "events[1].id"),
                 ([inside], {"to": "2026-12-01T00:00:00Z"}, "to"),
                 ([inside], {"from": "yesterday"}, "from"),
                 ("nope", {}, "events"),
                 ([inside], {"colour": 1}, "colour")]
        for events, extra, field in cases:
            status, _, body = self.replace(events, **extra)
            self.assertEqual((status, body.get("field")), (400, field), (events, extra, body))
        self.assertEqual(self.totals()["query"], ("100", 1))


class ScopeTest(CorrectionCase):
    # Verifies tenant keys amend and replace only their own tenant, and moving an event to
    # another tenant needs a key for both (an admin's).
    def test_tenant_keys(self):
        self.m.stop()
        _, admin, _ = keys(self.dir, "create", "--admin")
        _, acme, _ = keys(self.dir, "create", "--tenant", "acme")
        _, globex, _ = keys(self.dir, "create", "--tenant", "globex")
        self.m = m = self.start()
        self.assertEqual(m.post("/v1/events", [ev("a1", "query", 5), ev("a2", "query", 6)], headers=bearer(acme))[0],
                         200)
        move = {"id": "a1", "set": {"tenant_id": "globex"}}
        self.assertEqual(m.post("/v1/events/amend", move, headers=bearer(acme))[0], 403)
        self.assertEqual(m.post("/v1/events/amend", move, headers=bearer(globex))[0], 404)
        replace = {"event_type": "query", "from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z", "events": []}
        self.assertEqual(m.post("/v1/tenants/acme/replace", replace, headers=bearer(globex))[0], 403)
        self.assertEqual(m.post("/v1/events/backfill", [ev("b1", "query", 1)], headers=bearer(acme))[0], 403)
        status, _, body = m.post("/v1/events/amend", dict(move, tenant_id="acme"), headers=bearer(admin))
        self.assertEqual((status, body["replacement"]["tenant_id"]), (200, "globex"), body)
        usage = m.get("/v1/usage?tenant_id=globex&from=2026-12-01&to=2027-01-01", headers=bearer(admin))[2]
        self.assertEqual([(t["event_type"], t["quantity"]) for t in usage["totals"]], [("query", "5")])
        self.assertEqual(self.totals_with(admin), {"query": ("6", 1)})

    def totals_with(self, key):
        usage = self.m.get("/v1/usage?tenant_id=acme&from=2026-12-01&to=2027-01-01", headers=bearer(key))[2]
        return {t["event_type"]: (t["quantity"], t["events"]) for t in usage["totals"]}


if __name__ == "__main__":
    main()
