#include "ingest/event_json.h"

#include <gtest/gtest.h>

namespace meter::ingest {
namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-27T10:00:00Z");

std::vector<ParsedEvent> parse_ok(std::string_view body, BodyFormat format = BodyFormat::kAuto) {
  auto items = parse_events(body, format, IngestLimits{}, kNow);
  EXPECT_TRUE(items) << (items ? "" : items.error().message);
  return items ? *items : std::vector<ParsedEvent>{};
}

std::string item_error(std::string_view body) {
  auto items = parse_events(body, BodyFormat::kAuto, IngestLimits{}, kNow);
  if (!items) return "body: " + items.error().message;
  if (items->size() != 1 || !(*items)[0].error) return "<no error>";
  return (*items)[0].error->field + ": " + (*items)[0].error->message;
}

std::string body_error(std::string_view body, IngestLimits limits = {}) {
  auto items = parse_events(body, BodyFormat::kAuto, limits, kNow);
  return items ? "<parsed>" : items.error().message;
}

// Verifies the Python service's /track body: defaults for id, timestamp, and metadata kept as JSON.
TEST(EventJson, ParsesSeedTrackBody) {
  auto item = parse_single_event(
      R"({"tenant_id": "tenant_acme", "event_type": "query", "quantity": 1,
          "metadata": {"endpoint": "/api/search"}})",
      IngestLimits{}, kNow);
  ASSERT_TRUE(item);
  ASSERT_FALSE(item->error) << item->error->message;
  EXPECT_EQ(item->event.tenant_id, "tenant_acme");
  EXPECT_EQ(item->event.event_type, "query");
  EXPECT_EQ(item->event.quantity.to_string(), "1");
  EXPECT_EQ(item->event.metadata, R"({"endpoint":"/api/search"})");
  EXPECT_EQ(item->event.timestamp, kNow);
  EXPECT_TRUE(item->event.id_generated);
  EXPECT_EQ(item->event.id.size(), 36u);
}

// Verifies quantities come from the number text exactly, in number or string form.
TEST(EventJson, QuantityIsExact) {
  auto items = parse_ok(R"([{"tenant_id":"t","event_type":"e","quantity":0.1},
                            {"tenant_id":"t","event_type":"e","quantity":"123456789012345.000000000001"},
                            {"tenant_id":"t","event_type":"e","quantity":1e3},
                            {"tenant_id":"t","event_type":"e"}])");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].event.quantity.to_string(), "0.1");
  EXPECT_EQ(items[1].event.quantity.to_string(), "123456789012345.000000000001");
  EXPECT_EQ(items[2].event.quantity.to_string(), "1000");
  EXPECT_EQ(items[3].event.quantity.to_string(), "1");
}

// Verifies timestamps in RFC 3339, epoch milliseconds and the Python service's zone-less form.
TEST(EventJson, ParsesTimestamps) {
  auto items = parse_ok(R"({"tenant_id":"t","event_type":"e","timestamp":"2026-11-27T09:00:00+01:00"}
{"tenant_id":"t","event_type":"e","timestamp":1795773000000}
{"tenant_id":"t","event_type":"e","timestamp":"2026-11-27T09:59:00.123456"})");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(format_rfc3339(items[0].event.timestamp), "2026-11-27T08:00:00.000Z");
  EXPECT_EQ(format_rfc3339(items[1].event.timestamp), "2026-11-27T09:50:00.000Z");
  EXPECT_EQ(format_rfc3339(items[2].event.timestamp), "2026-11-27T09:59:00.123Z");
}

// Verifies each field problem is reported per item, naming the field.
TEST(EventJson, ReportsFieldErrors) {
  EXPECT_EQ(item_error(R"({"event_type":"e"})"), "tenant_id: tenant_id is required");
  EXPECT_EQ(item_error(R"({"tenant_id":"t"})"), "event_type: event_type is required");
  EXPECT_EQ(item_error(R"({"tenant_id":5,"event_type":"e"})"),
            "tenant_id: tenant_id must be a string, not a number");
  EXPECT_EQ(item_error(R"({"tenant_id":"a b","event_type":"e"})").substr(0, 20), "tenant_id: tenant_id");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","quantity":-1})"),
            "quantity: quantity must not be negative");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","quantity":true})"),
            "quantity: quantity must be a number, not a boolean");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","quantity":1e400})").substr(0, 18),
            "quantity: quantity");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","quantity":"NaN"})").substr(0, 18),
            "quantity: quantity");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","tenant_id":"u"})"),
            "tenant_id: duplicate field 'tenant_id'");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","quantiy":2})"),
            "quantiy: unknown field 'quantiy'; put extra data in metadata");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","metadata":[1]})"),
            "metadata: metadata must be an object, not an array");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","id":""})"), "id: id must not be empty");
  EXPECT_EQ(item_error(R"({"tenant_id":"t\u0000x","event_type":"e"})").substr(0, 20), "tenant_id: tenant_id");
  EXPECT_EQ(
      item_error(R"({"tenant_id":"t","event_type":"e","timestamp":"2026-11-27T10:06:00Z"})").substr(0, 34),
      "timestamp: timestamp 2026-11-27T10");
  // Older than the late window is the writer's call, after dedupe
  // (IngestorTest.LateRetryOfStoredEventIsDuplicate).
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","timestamp":"2026-10-01T00:00:00Z"})"),
            "<no error>");
  EXPECT_EQ(item_error(R"({"tenant_id":"t","event_type":"e","timestamp":1.5})"),
            "timestamp: a numeric timestamp must be whole milliseconds since the Unix epoch");
  EXPECT_EQ(item_error(R"(5)"), "body: body must be an event object, an array of them, or NDJSON");
  EXPECT_EQ(item_error(R"([5])"), ": an event must be a JSON object, not a number");
}

// Verifies metadata depth and size limits.
TEST(EventJson, LimitsMetadata) {
  std::string deep = R"({"tenant_id":"t","event_type":"e","metadata":)";
  for (int i = 0; i < 9; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 9; ++i) deep += "}";
  deep += "}";
  EXPECT_EQ(item_error(deep), "metadata: metadata is nested deeper than 8 levels");
  std::string big =
      R"({"tenant_id":"t","event_type":"e","metadata":{"a":")" + std::string(9000, 'x') + R"("}})";
  EXPECT_EQ(item_error(big), "metadata: metadata is 9008 bytes, more than the limit of 8192");
}

// Verifies malformed JSON fails the whole body, and a partly bad batch keeps its good items.
TEST(EventJson, MalformedBodiesFailWhole) {
  for (const char* bad : {R"({"tenant_id":"t")", R"([{"tenant_id":"t","event_type":"e"},)",
                          R"({"tenant_id":tru})", R"({"tenant_id":"t","event_type":"e","metadata":{"a":01}})",
                          R"({"tenant_id":"t","event_type":"e","metadata":{"a":-}})",
                          "{\"tenant_id\":\"\xff\"}", R"([{"tenant_id":"t","event_type":"e"}] x)"}) {
    EXPECT_NE(body_error(bad), "<parsed>") << bad;
  }
  EXPECT_EQ(body_error(""), "body is empty; send an event object, an array or NDJSON");
  EXPECT_EQ(body_error("[]"), "body holds no events");
  auto items = parse_ok(
      R"([{"tenant_id":"t","event_type":"e"},{"tenant_id":"t"},{"tenant_id":"u","event_type":"e"}])");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_FALSE(items[0].error);
  EXPECT_TRUE(items[1].error);
  EXPECT_FALSE(items[2].error);
}

// Verifies absurdly deep nesting anywhere is refused without exhausting the stack.
TEST(EventJson, DeepNestingIsRefused) {
  for (int depth : {100, 100000, 1000000}) {
    std::string arrays = std::string(depth, '[') + std::string(depth, ']');
    EXPECT_FALSE(parse_events(arrays, BodyFormat::kAuto, {}, kNow)) << depth;
    std::string in_field = R"({"tenant_id":"t","event_type":"e","x":)" + arrays + "}";
    EXPECT_FALSE(parse_events(in_field, BodyFormat::kAuto, {}, kNow)) << depth;
    std::string in_metadata = R"({"tenant_id":"t","event_type":"e","metadata":{"a":)" + arrays + "}}";
    auto items = parse_events(in_metadata, BodyFormat::kAuto, {}, kNow);
    EXPECT_TRUE(!items || (*items)[0].error) << depth;
  }
}

// Verifies NDJSON, with blank lines and a malformed line reported by number.
TEST(EventJson, ParsesNdjson) {
  auto items =
      parse_ok("{\"tenant_id\":\"t\",\"event_type\":\"e\"}\n\n{\"tenant_id\":\"u\",\"event_type\":\"e\"}\n",
               BodyFormat::kNdjson);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].event.tenant_id, "u");
  auto bad =
      parse_events("{\"tenant_id\":\"t\",\"event_type\":\"e\"}\n{oops\n", BodyFormat::kNdjson, {}, kNow);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("at line 2"), std::string::npos) << bad.error().message;
}

// Verifies the per-request event limit.
TEST(EventJson, LimitsEventsPerRequest) {
  IngestLimits limits;
  limits.max_events_per_request = 2;
  EXPECT_EQ(
      body_error(
          R"([{"tenant_id":"t","event_type":"e"},{"tenant_id":"t","event_type":"e"},{"tenant_id":"t","event_type":"e"}])",
          limits),
      "a request may hold at most 2 events; split the batch");
}

}  // namespace
}  // namespace meter::ingest
