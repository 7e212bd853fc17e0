#include "fuzz/targets.h"

#include <cstdlib>
#include <string_view>

#include "config/load.h"
#include "core/decimal.h"
#include "ingest/cloud_event.h"
#include "ingest/event_json.h"
#include "server/http_server.h"
#include "server/router.h"

namespace meter::fuzz {
namespace {

std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

void event_json(const std::uint8_t* data, std::size_t size) {
  ingest::IngestLimits limits;
  limits.max_events_per_request = 100;
  Timestamp now = *parse_rfc3339("2026-11-27T10:00:00Z");
  for (auto format : {ingest::BodyFormat::kAuto, ingest::BodyFormat::kNdjson}) {
    auto items = ingest::parse_events(text(data, size), format, limits, now);
    if (!items) continue;
    require(items->size() <= limits.max_events_per_request);
    for (const auto& item : *items) {
      if (item.error) continue;
      // Anything accepted is a complete, valid event with a non-negative exact quantity.
      require(!item.event.tenant_id.empty() && !item.event.event_type.empty() && !item.event.id.empty());
      require(!item.event.quantity.is_negative());
      require(Decimal::parse(item.event.quantity.to_string()) == item.event.quantity);
      require(item.event.metadata.size() <= limits.max_metadata_bytes);
    }
  }
  (void)ingest::parse_single_event(text(data, size), limits, now, "fuzz_tenant");
}

void cloud_event(const std::uint8_t* data, std::size_t size) {
  ingest::IngestLimits limits;
  limits.max_events_per_request = 100;
  Timestamp now = *parse_rfc3339("2026-11-27T10:00:00Z");
  ingest::CloudEventMappings mappings;
  mappings.defaults.value_property = "$.usage.units";
  mappings.types.push_back({"t", "input_tokens", "$.n", "$.org"});
  auto check = [&](const ingest::ParsedEvent& item) {
    if (item.error) return;
    require(!item.event.tenant_id.empty() && !item.event.event_type.empty() && !item.event.id.empty());
    require(!item.event.quantity.is_negative());
    require(item.event.metadata.size() <= limits.max_metadata_bytes);
  };
  for (bool batch : {false, true}) {
    auto items = ingest::parse_cloud_events(text(data, size), batch, mappings, limits, now, "fuzz_tenant");
    if (!items) continue;
    require(items->size() <= limits.max_events_per_request);
    for (const auto& item : *items) check(item);
  }
  ingest::CloudEventHeaders headers{{{"specversion", "1.0"}, {"id", "1"}, {"source", "s"}, {"type", "t"}},
                                    "application/json"};
  if (auto item =
          ingest::parse_binary_cloud_event(headers, text(data, size), mappings, limits, now, "fuzz")) {
    check(*item);
  }
}

void decimal(const std::uint8_t* data, std::size_t size) {
  auto d = Decimal::parse(text(data, size));
  if (!d) return;
  // Printing and parsing again gives the same value; arithmetic never wraps.
  require(Decimal::parse(d->to_string()) == d);
  if (auto twice = d->checked_add(*d)) require(twice->checked_sub(*d) == d);
}

void config(const std::uint8_t* data, std::size_t size) {
  (void)config::parse_dotenv(text(data, size));
  config::LoadedConfig loaded;
  (void)config::apply_toml_text(loaded, text(data, size), "fuzz.toml");
}

void http_request(const std::uint8_t* data, std::size_t size) {
  server::HttpServerOptions options;
  options.max_header_bytes = 4096;
  options.max_body_bytes = 65536;
  std::string error;
  auto request = server::parse_http_request(text(data, size), options, error);
  if (!request) return;
  require(request->body.size() <= options.max_body_bytes);
  // Routing and the access check from the headers alone never crash, whatever the path.
  static server::Router router = [] {
    server::Router r;
    auto ok = [](server::HttpRequest&, const server::PathParams&, server::Responder& respond) {
      respond(server::HttpResponse{});
    };
    r.add("GET", "/v1/tenants/{tenant}/invoices/{month}", server::Access::kKey, ok);
    r.add("POST", "/v1/events", server::Access::kKey, ok);
    return r;
  }();
  auto refused = router.precheck(*request);
  if (!refused) require(request->route >= 0);
}

void query_string(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::string, std::less<>> query;
  if (!server::parse_query(text(data, size), query)) return;
  // Every decoded pair encodes back to a query that decodes to the same pairs.
  std::string encoded;
  for (const auto& [key, value] : query) {
    for (const std::string* part : {&key, &value}) {
      for (unsigned char c : *part) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        encoded += '%';
        encoded += kHex[c >> 4];
        encoded += kHex[c & 15];
      }
      encoded += part == &key ? "=" : "&";
    }
  }
  std::map<std::string, std::string, std::less<>> again;
  require(server::parse_query(encoded, again));
  require(again == query);
}

}  // namespace meter::fuzz
