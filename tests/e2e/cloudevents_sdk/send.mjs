// Sends CloudEvents made by the CloudEvents JavaScript SDK to meterd, in each HTTP mode, and
// prints one JSON line per request: {mode, status, body, ids}. Used by test_cloudevents.py.
// Usage: node send.mjs BASE_URL API_KEY TENANT
import { CloudEvent, HTTP } from "cloudevents";

const [base, apiKey, tenant] = process.argv.slice(2);
const auth = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};

function prompt(tokens, model) {
  return new CloudEvent({
    type: "com.example.llm.prompt",
    source: "/sdk-test",
    subject: tenant,
    datacontenttype: "application/json",
    data: { tokens, model },
  });
}

async function send(mode, path, message, ids) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { ...message.headers, ...auth },
    body: message.body,
  });
  const body = await response.text();
  console.log(JSON.stringify({ mode, status: response.status, body: JSON.parse(body), ids }));
}

const structured = prompt(1200, "gpt-x");
await send("structured", "/v1/events", HTTP.structured(structured), [structured.id]);

const binary = prompt(345, "gpt-y");
await send("binary", "/track", HTTP.binary(binary), [binary.id]);
await send("binary-again", "/track", HTTP.binary(binary), [binary.id]);

const batch = [prompt(1, "a"), prompt(2, "b"), prompt(3, "c")];
await send(
  "batch",
  "/v1/events",
  { headers: { "content-type": "application/cloudevents-batch+json; charset=utf-8" }, body: JSON.stringify(batch) },
  batch.map((e) => e.id),
);
