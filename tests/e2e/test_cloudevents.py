"""End-to-end: CloudEvents 1.0 into the real binary: the spec's own examples, the three HTTP
modes, the mapping from meterd.toml, and events made by the CloudEvents JavaScript SDK."""
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import METERD_BIN, Meterd, main

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_DIR = os.path.join(HERE, "cloudevents_sdk")

CONFIG = '''
[cloudevents.types."com.example.llm.prompt"]
event_type = "input_tokens"
value_property = "$.tokens"

[cloudevents.types."com.example.usage"]
value_property = "$.usage.units"
tenant_property = "$.org"
'''

# The CloudEvents 1.0 JSON format's examples (json-format.md, 3.2 and 4.3), verbatim.
SPEC_STRING_DATA = r'''{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "A234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "unsetextension": null,
    "datacontenttype" : "text/xml",
    "data" : "<much wow=\"xml\"/>"
}'''
SPEC_BINARY_DATA = r'''{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "B234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/vnd.apache.thrift.binary",
    "data_base64" : "... base64 encoded string ..."
}'''
SPEC_JSON_DATA = r'''{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "subject": null,
    "id" : "C234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/json",
    "data" : {
        "appinfoA" : "abc",
        "appinfoB" : 123,
        "appinfoC" : true
    }
}'''
SPEC_BATCH = r'''[
  {
      "specversion" : "1.0",
      "type" : "com.example.someevent",
      "source" : "/mycontext/4",
      "id" : "B234-1234-1234",
      "time" : "2018-04-05T17:31:00Z",
      "comexampleextension1" : "value",
      "comexampleothervalue" : 5,
      "datacontenttype" : "application/vnd.apache.thrift.binary",
      "data_base64" : "... base64 encoded string ..."
  },
  {
      "specversion" : "1.0",
      "type" : "com.example.someotherevent",
      "source" : "/mycontext/9",
      "id" : "C234-1234-1234",
      "time" : "2018-04-05T17:31:05Z",
      "comexampleextension1" : "value",
      "comexampleothervalue" : 5,
      "datacontenttype" : "application/json",
      "data" : {
          "appinfoA" : "abc",
          "appinfoB" : 123,
          "appinfoC" : true
      }
  }
]'''

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


def recent(text, minutes_ago=1):
    """The example with its 2018 time moved to a minute ago (meterd refuses events older than
    its late window, 35 days)."""
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes_ago)
    return text.replace("2018-04-05T17:31", when.strftime("%Y-%m-%dT%H:%M"))


def create_key(data_dir, *args):
    out = subprocess.run([METERD_BIN, "keys", "create"] + list(args) + ["--data-dir", data_dir],
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip().split()[-1]


class CloudEventsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="meterd-ce-")
        with open(os.path.join(cls.dir, "meterd.toml"), "w") as f:
            f.write(CONFIG)
        cls.admin = create_key(cls.dir, "--admin")
        cls.spec_key = create_key(cls.dir, "--tenant", "spec_tenant")
        cls.m = Meterd(data_dir=cls.dir, extra_args=["--config", os.path.join(cls.dir, "meterd.toml")]).start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def post(self, path, body, content_type, key=None, headers=None):
        h = {"Content-Type": content_type, "Authorization": "Bearer " + (key or self.admin)}
        h.update(headers or {})
        return self.m.post(path, body=body, headers=h)

    def stored(self, event_id, tenant):
        with self.m.db() as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'usage_events_%'"):
                row = db.execute("SELECT event_type, quantity, metadata, ts FROM %s WHERE id=? AND tenant_id=?"
                                 % table, (event_id, tenant)).fetchone()
                if row:
                    return row
        return None

    # Verifies the spec's examples as sent: the tenant comes from the key (they have no subject);
    # their 2018 time is refused with the attribute named, and accepted when recent.
    def test_spec_examples(self):
        status, _, body = self.post("/v1/events", SPEC_JSON_DATA, STRUCTURED, key=self.spec_key)
        self.assertEqual(status, 400)
        self.assertEqual(body["results"][0]["error"]["field"], "time")

        for example in (SPEC_STRING_DATA, SPEC_BINARY_DATA, SPEC_JSON_DATA):
            status, _, body = self.post("/v1/events", recent(example), STRUCTURED, key=self.spec_key)
            self.assertEqual(status, 200, body)
            self.assertEqual(body["accepted"], 1)
        event_type, quantity, metadata, _ = self.stored("C234-1234-1234", "spec_tenant")
        self.assertEqual((event_type, quantity), ("com.example.someevent", "1"))
        self.assertEqual(json.loads(metadata), {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True})
        self.assertEqual(self.stored("A234-1234-1234", "spec_tenant")[2], "{}")

        # the batch example repeats two ids: stored once, whatever the format
        status, _, body = self.post("/v1/events", recent(SPEC_BATCH), BATCH, key=self.spec_key)
        self.assertEqual(status, 200, body)
        self.assertEqual([r["status"] for r in body["results"]], ["duplicate", "duplicate"])
        status, _, body = self.post("/v1/events", "[]", BATCH, key=self.spec_key)
        self.assertEqual((status, body["accepted"], body["results"]), (200, 0, []))

    # Verifies the mapping: value_property (nested) is the quantity, tenant_property the tenant,
    # the rest of data the metadata; binary mode on /track.
    def test_mapping_and_binary_mode(self):
        event = {"specversion": "1.0", "type": "com.example.usage", "source": "/billing", "id": "map-1",
                 "subject": "user-9", "data": {"org": "org_a", "usage": {"units": 2.5, "kind": "gpu"}}}
        status, _, body = self.post("/v1/events", json.dumps(event), STRUCTURED)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.stored("map-1", "org_a")[:3], ("com.example.usage", "2.5", '{"usage":{"kind":"gpu"}}'))

        headers = {"ce-specversion": "1.0", "ce-id": "bin-1", "ce-source": "/app", "ce-type": "com.example.llm.prompt",
                   "ce-subject": "tenant_bin", "ce-time": recent("2018-04-05T17:31:00Z")}
        status, _, body = self.post("/track", '{"tokens": 1500, "model": "m1"}', "application/json", headers=headers)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["status"], body["tenant_id"], body["event_type"], body["quantity"]),
                         ("accepted", "tenant_bin", "input_tokens", "1500"))
        self.assertEqual(self.stored("bin-1", "tenant_bin")[2], '{"model":"m1"}')
        status, _, body = self.post("/track", '{"tokens": 1500}', "application/json", headers=headers)
        self.assertEqual((status, body["status"]), (200, "duplicate"))

        # a structured event on /track answers like /track
        event = {"specversion": "1.0", "type": "com.example.llm.prompt", "source": "/s", "id": "st-1",
                 "subject": "tenant_bin", "data": {"tokens": 7}}
        status, _, body = self.post("/track", json.dumps(event), STRUCTURED)
        self.assertEqual((status, body["quantity"]), (200, "7"))

    # Verifies that bad CloudEvents get a problem naming the attribute, and store nothing.
    def test_bad_events_are_refused(self):
        base = {"specversion": "1.0", "type": "com.example.llm.prompt", "source": "/s", "subject": "tenant_bad"}
        cases = [
            (dict(base, id="bad-1", data={"model": "m"}), "data", "data has no number at $.tokens"),
            (dict(base, id="bad-2", specversion="0.3", data={"tokens": 1}), "specversion", "0.3"),
            (dict(base, id="bad-3", data={"tokens": "many"}), "data", "is not a decimal"),
            (dict(base, data={"tokens": 1}), "id", "id is required"),
            (dict(base, id="bad-5", subject="another tenant", data={"tokens": 1}), "subject", "may contain only"),
        ]
        for event, field, detail in cases:
            status, _, body = self.post("/v1/events", json.dumps(event), STRUCTURED)
            self.assertEqual(status, 400, event)
            self.assertEqual(body["field"], field, body)
            self.assertIn(detail, body["detail"])
        status, _, body = self.post("/v1/events", '{"specversion": "1.0", "id": ', STRUCTURED)
        self.assertEqual(status, 400)
        self.assertIn("not valid JSON", body["detail"])
        headers = {"ce-specversion": "1.0", "ce-id": "bad-6", "ce-source": "/s", "ce-type": "com.example.llm.prompt",
                   "ce-subject": "tenant_bad"}
        status, _, body = self.post("/track", "\x00\x01", "application/octet-stream", headers=headers)
        self.assertEqual((status, body["field"]), (400, "data"))
        for i in range(1, 7):
            self.assertIsNone(self.stored("bad-%d" % i, "tenant_bad"))
        # a tenant key cannot name another tenant in subject
        event = dict(base, id="other-1", subject="someone_else", data={"tokens": 1})
        status, _, _ = self.post("/v1/events", json.dumps(event), STRUCTURED, key=self.spec_key)
        self.assertEqual(status, 403)

    # Verifies events produced by the CloudEvents JavaScript SDK (npm `cloudevents`), sent over
    # HTTP in structured, binary and batch form: each stored once with the SDK's ids.
    def test_javascript_sdk(self):
        out = subprocess.run(["node", os.path.join(SDK_DIR, "send.mjs"), "http://127.0.0.1:%d" % self.m.port,
                              self.admin, "tenant_sdk"], capture_output=True, text=True, timeout=60, cwd=SDK_DIR)
        self.assertEqual(out.returncode, 0, out.stderr)
        sent = {r["mode"]: r for r in map(json.loads, out.stdout.splitlines())}
        self.assertEqual(sent["structured"]["status"], 200, sent["structured"])
        self.assertEqual(sent["structured"]["body"]["results"][0]["id"], sent["structured"]["ids"][0])
        self.assertEqual(sent["binary"]["body"]["status"], "accepted")
        self.assertEqual(sent["binary-again"]["body"]["status"], "duplicate")
        self.assertEqual(sent["batch"]["body"]["accepted"], 3)
        quantities = {}
        for mode, record in sent.items():
            for event_id in record["ids"]:
                event_type, quantity, metadata, _ = self.stored(event_id, "tenant_sdk")
                self.assertEqual(event_type, "input_tokens")
                quantities[event_id] = quantity
        self.assertEqual(sorted(quantities.values(), key=int), ["1", "2", "3", "345", "1200"])
        status, _, usage = self.m.get("/v1/usage?tenant_id=tenant_sdk", headers={"Authorization": "Bearer " + self.admin})
        self.assertEqual(usage["totals"], [{"event_type": "input_tokens", "quantity": "1551", "events": 5}])


if __name__ == "__main__":
    main()
