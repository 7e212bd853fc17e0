#include "ingest/cloud_event.h"

#include <gtest/gtest.h>

namespace meter::ingest {
namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-27T10:00:00Z");

CloudEventMappings llm_mappings() {
  CloudEventMappings m;
  m.types.push_back({"com.example.llm", "input_tokens", "$.usage.input", ""});
  m.types.push_back({"com.example.byorg", "", "$.n", "$.org"});
  return m;
}

// One structured event's outcome: "field: message" for a rejected one, "ok" otherwise.
std::string outcome(std::string_view body, const CloudEventMappings& m = llm_mappings(),
                    std::string_view tenant = {}) {
  auto items = parse_cloud_events(body, false, m, IngestLimits{}, kNow, tenant);
  if (!items) return "body: " + items.error().message;
  if (items->size() != 1) return "<not one item>";
  const auto& e = (*items)[0];
  return e.error ? e.error->field + ": " + e.error->message : "ok";
}

Event event(std::string_view body, const CloudEventMappings& m = llm_mappings(),
            std::string_view tenant = {}) {
  auto items = parse_cloud_events(body, false, m, IngestLimits{}, kNow, tenant);
  EXPECT_TRUE(items && items->size() == 1 && !(*items)[0].error) << outcome(body, m, tenant);
  return items && !items->empty() ? (*items)[0].event : Event{};
}

// Verifies the default mapping: subject is the tenant, type the event type, one per event,
// and data's members (every number with its text) become metadata; extensions are ignored.
TEST(CloudEvent, DefaultMappingCountsAndKeepsDataAsMetadata) {
  Event e = event(R"({"specversion":"1.0","type":"com.example.someevent","source":"/mycontext",
    "subject":"acme","id":"C234-1234-1234","time":"2026-11-27T09:31:00Z","comexampleextension1":"value",
    "comexampleothervalue":5,"datacontenttype":"application/json",
    "data":{"appinfoA":"abc","appinfoB":123.50,"appinfoC":true}})");
  EXPECT_EQ(e.id, "C234-1234-1234");
  EXPECT_EQ(e.tenant_id, "acme");
  EXPECT_EQ(e.event_type, "com.example.someevent");
  EXPECT_EQ(e.quantity.to_string(), "1");
  EXPECT_EQ(e.timestamp, *parse_rfc3339("2026-11-27T09:31:00Z"));
  EXPECT_EQ(e.metadata, R"({"appinfoA":"abc","appinfoB":123.50,"appinfoC":true})");
}

// Verifies a configured type: the value comes out of nested data exactly and leaves metadata.
TEST(CloudEvent, ValuePropertyIsTheQuantity) {
  Event e = event(R"({"specversion":"1.0","type":"com.example.llm","source":"s","subject":"acme","id":"1",
    "data":{"model":"m","usage":{"input":0.300000000001,"output":7}}})");
  EXPECT_EQ(e.event_type, "input_tokens");
  EXPECT_EQ(e.quantity.to_string(), "0.300000000001");
  EXPECT_EQ(e.metadata, R"({"model":"m","usage":{"output":7}})");
  EXPECT_EQ(e.timestamp, kNow);
  // a numeric string is a quantity too
  EXPECT_EQ(event(R"({"specversion":"1.0","type":"com.example.llm","source":"s","subject":"a","id":"1",
    "data":{"usage":{"input":"12"}}})")
                .quantity.to_string(),
            "12");
}

// Verifies that tenant_property takes the tenant from data, not from the subject.
TEST(CloudEvent, TenantPropertyReadsData) {
  Event e = event(R"({"specversion":"1.0","type":"com.example.byorg","source":"s","subject":"user-7","id":"1",
    "data":{"org":"acme","n":3}})");
  EXPECT_EQ(e.tenant_id, "acme");
  EXPECT_EQ(e.quantity.to_string(), "3");
  EXPECT_EQ(e.metadata, "{}");
  EXPECT_EQ(
      outcome(R"({"specversion":"1.0","type":"com.example.byorg","source":"s","id":"1","data":{"n":3}})"),
      "data: data has no string at $.org (tenant_property for type 'com.example.byorg' in meterd.toml's "
      "[cloudevents])");
}

// Verifies that a tenant key's tenant stands in for a missing subject, and nothing else does.
TEST(CloudEvent, SubjectOrTheKeysTenant) {
  std::string body = R"({"specversion":"1.0","type":"t","source":"s","id":"1"})";
  EXPECT_EQ(event(body, {}, "acme").tenant_id, "acme");
  EXPECT_EQ(
      outcome(body, {}),
      "subject: subject is required: it names the tenant billed for the event (or set tenant_property in "
      "meterd.toml's [cloudevents])");
}

// Verifies each attribute's check, with the attribute named.
TEST(CloudEvent, RejectsWhatCloudEvents10Forbids) {
  EXPECT_EQ(outcome(R"({"type":"t","source":"s","id":"1","subject":"a"})"),
            "specversion: specversion is required; send \"1.0\"");
  EXPECT_EQ(outcome(R"({"specversion":"0.3","type":"t","source":"s","id":"1","subject":"a"})"),
            "specversion: specversion '0.3' is not supported; meterd reads CloudEvents 1.0");
  EXPECT_EQ(outcome(R"({"specversion":"1.0","source":"s","id":"1","subject":"a"})"),
            "type: type is required");
  EXPECT_EQ(outcome(R"({"specversion":"1.0","type":"t","id":"1","subject":"a"})"),
            "source: source is required");
  EXPECT_EQ(outcome(R"({"specversion":"1.0","type":"t","source":"s","id":"","subject":"a"})"),
            "id: id is required");
  EXPECT_EQ(outcome(R"({"specversion":"1.0","type":"t","source":"s","id":5,"subject":"a"})"),
            "id: id must be a string, not a number");
  EXPECT_EQ(
      outcome(R"({"specversion":"1.0","type":"t","source":"s","id":"1","subject":"a","time":"yesterday"})"),
      "time: time 'yesterday' is not RFC 3339 (e.g. 2026-11-27T10:00:00Z)");
  EXPECT_EQ(outcome(R"({"specversion":"1.0","type":"t","source":"s","id":"1","subject":"a b"})"),
            "subject: tenant_id may contain only letters, digits and . _ : @ / + = -");
  EXPECT_EQ(outcome(R"({"specversion":"1.0","type":"com.example.llm","source":"s","id":"1","subject":"a",
    "data":{"usage":{"input":-1}}})"),
            "data: quantity must not be negative");
  EXPECT_EQ(outcome(R"({"specversion":"1.0","type":"com.example.llm","source":"s","id":"1","subject":"a",
    "data_base64":"AAA="})"),
            "data: data is binary, so it has no number at $.usage.input (value_property for type "
            "'com.example.llm' in meterd.toml's [cloudevents])");
  EXPECT_EQ(outcome(R"([])"),
            "body: a CloudEvent (application/cloudevents+json) is one JSON object; send batches "
            "as application/cloudevents-batch+json");
  EXPECT_EQ(
      outcome(R"({"specversion":"1.0","type":"t","source":"s","id":"1","data":{"a":tru}})").substr(0, 30),
      "body: body is not valid JSON: ");
}

// Verifies the batch format: per-event outcomes, and the empty batch the spec allows.
TEST(CloudEvent, BatchHasOneItemPerEvent) {
  auto items = parse_cloud_events(R"([{"specversion":"1.0","type":"t","source":"s","id":"1","subject":"a"},
    {"specversion":"1.0","type":"t","source":"s","subject":"a"}, 7])",
                                  true, {}, IngestLimits{}, kNow);
  ASSERT_TRUE(items);
  ASSERT_EQ(items->size(), 3u);
  EXPECT_FALSE((*items)[0].error);
  EXPECT_EQ((*items)[1].error->field, "id");
  EXPECT_EQ((*items)[2].error->message, "a CloudEvent must be a JSON object, not a number");
  auto empty = parse_cloud_events(" [ ] ", true, {}, IngestLimits{}, kNow);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  IngestLimits two;
  two.max_events_per_request = 2;
  EXPECT_FALSE(parse_cloud_events(R"([{},{},{}])", true, {}, two, kNow));
}

// Verifies the binary mode: attributes from headers, the body is the data.
TEST(CloudEvent, BinaryModeReadsHeadersAndBody) {
  CloudEventHeaders h{{{"specversion", "1.0"},
                       {"id", "b1"},
                       {"source", "/s"},
                       {"type", "com.example.llm"},
                       {"subject", "acme"},
                       {"time", "2026-11-27T09:00:00Z"}},
                      "application/json"};
  auto item = parse_binary_cloud_event(h, R"({"usage":{"input":42},"model":"m"})", llm_mappings(),
                                       IngestLimits{}, kNow);
  ASSERT_TRUE(item);
  ASSERT_FALSE(item->error) << item->error->message;
  EXPECT_EQ(item->event.quantity.to_string(), "42");
  EXPECT_EQ(item->event.metadata, R"({"usage":{},"model":"m"})");
  EXPECT_EQ(item->event.timestamp, *parse_rfc3339("2026-11-27T09:00:00Z"));
  EXPECT_FALSE(parse_binary_cloud_event(h, R"({"usage":)", llm_mappings(), IngestLimits{}, kNow));
  h.content_type = "application/octet-stream";
  auto binary = parse_binary_cloud_event(h, "\x01\x02", llm_mappings(), IngestLimits{}, kNow);
  ASSERT_TRUE(binary);
  EXPECT_EQ(binary->error->field, "data");
}

// Verifies the JSON paths meterd accepts in meterd.toml.
TEST(CloudEvent, JsonPathsAreMemberNames) {
  EXPECT_FALSE(json_path_error("$.tokens"));
  EXPECT_FALSE(json_path_error("$.usage.input"));
  EXPECT_TRUE(json_path_error("tokens"));
  EXPECT_TRUE(json_path_error("$.a..b"));
  EXPECT_TRUE(json_path_error("$.items[0]"));
}

}  // namespace
}  // namespace meter::ingest
