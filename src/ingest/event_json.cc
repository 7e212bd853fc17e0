// Long, knowingly: one simdjson On-Demand pass over an event, every field's checks and error
// messages beside the code that reads it, plus the array and NDJSON framing around it.
#include "ingest/event_json.h"

#include <fmt/format.h>

#include <charconv>

#include "core/identifier.h"
#include "ingest/json_walk.h"
#include "ingest/validate.h"

namespace meter::ingest {
namespace {

namespace od = json::od;
using json::copy_json, json::Malformed, json::number_text, json::skip_checked, json::take, json::trim,
    json::type_name;

// A simdjson failure is a malformed body and unwinds to the entry points below as Malformed;
// a field problem is recorded on the item instead.

// Reads one event object into `out`. Field problems go to out.error; malformed JSON throws.
class EventReader {
 public:
  EventReader(const IngestLimits& limits, Timestamp now, std::string_view default_tenant,
              std::string_view default_type = {})
      : limits_(limits), now_(now), default_tenant_(default_tenant), default_type_(default_type) {}

  void read(od::value value, ParsedEvent& out) {
    auto type = take(value.type());
    if (type != od::json_type::object) {
      skip_checked(value);
      out.error = Error::invalid("", fmt::format("an event must be a JSON object, not {}", type_name(type)));
      return;
    }
    Event& e = out.event;
    unsigned seen = 0;
    bool has_id = false;
    bool has_quantity = false;
    bool has_timestamp = false;
    for (auto field : take(value.get_object())) {
      std::string_view key = take(field.unescaped_key());
      od::value v = take(field.value());
      unsigned bit = field_bit(key);
      if (!out.error && bit == 0) {
        out.error = Error::invalid(std::string(key),
                                   fmt::format("unknown field '{}'; put extra data in metadata", key));
      } else if (!out.error && (seen & bit)) {
        out.error = Error::invalid(std::string(key), fmt::format("duplicate field '{}'", key));
      }
      seen |= bit;
      auto vt = take(v.type());
      if (out.error || (vt == od::json_type::null && key != "tenant_id" && key != "event_type")) {
        skip_checked(v);
        continue;
      }
      if (key == "id") {
        read_string(v, vt, "id", e.id, out);
        has_id = true;
      } else if (key == "tenant_id") {
        read_string(v, vt, "tenant_id", e.tenant_id, out);
      } else if (key == "event_type") {
        read_string(v, vt, "event_type", e.event_type, out);
      } else if (key == "quantity") {
        has_quantity = read_quantity(v, vt, out);
      } else if (key == "timestamp") {
        has_timestamp = read_timestamp(v, vt, out);
      } else if (key == "metadata") {
        read_metadata(v, vt, out);
      }
    }
    if (out.error) return;
    if (!(seen & kTenant)) {
      if (default_tenant_.empty()) return set(out, "tenant_id", "tenant_id is required");
      e.tenant_id = std::string(default_tenant_);
    }
    if (!(seen & kType)) {
      if (default_type_.empty()) return set(out, "event_type", "event_type is required");
      e.event_type = std::string(default_type_);
    }
    if (!has_quantity) e.quantity = *Decimal::from_integer(1);
    if (!has_timestamp) e.timestamp = now_;
    e.received_at = now_;
    if (!has_id) {  // absent or null
      e.id = new_event_id(now_);
      e.id_generated = true;
    }
    if (auto err = validate_event(e, limits_, now_)) out.error = std::move(err);
  }

 private:
  static constexpr unsigned kId = 1, kTenant = 2, kType = 4, kQuantity = 8, kTimestamp = 16, kMetadata = 32;

  static unsigned field_bit(std::string_view key) {
    if (key == "id") return kId;
    if (key == "tenant_id") return kTenant;
    if (key == "event_type") return kType;
    if (key == "quantity") return kQuantity;
    if (key == "timestamp") return kTimestamp;
    if (key == "metadata") return kMetadata;
    return 0;
  }

  static void set(ParsedEvent& out, const char* field, std::string message) {
    out.error = Error::invalid(field, std::move(message));
  }

  // Records a field error for a value of the wrong type, still checking that it is valid JSON.
  static void reject(od::value& v, ParsedEvent& out, const char* field, std::string message) {
    skip_checked(v);
    set(out, field, std::move(message));
  }

  void read_string(od::value& v, od::json_type t, const char* field, std::string& to, ParsedEvent& out) {
    if (t != od::json_type::string) {
      return reject(v, out, field, fmt::format("{} must be a string, not {}", field, type_name(t)));
    }
    to = take(v.get_string());
  }

  bool read_quantity(od::value& v, od::json_type t, ParsedEvent& out) {
    std::string_view text;
    if (t == od::json_type::number) {
      text = number_text(v);
    } else if (t == od::json_type::string) {
      text = take(v.get_string());
    } else {
      reject(v, out, "quantity", fmt::format("quantity must be a number, not {}", type_name(t)));
      return false;
    }
    auto q = json::parse_quantity(text, "quantity");
    if (!q) {
      out.error = q.error();
      return false;
    }
    out.event.quantity = *q;
    return true;
  }

  bool read_timestamp(od::value& v, od::json_type t, ParsedEvent& out) {
    if (t == od::json_type::string) {
      std::string_view text = take(v.get_string());
      auto ts = json::parse_timestamp_text(text);
      if (!ts) {
        set(out, "timestamp",
            fmt::format("timestamp '{}' is not RFC 3339 (e.g. 2026-11-27T10:00:00Z)", text.substr(0, 64)));
        return false;
      }
      out.event.timestamp = *ts;
      return true;
    }
    if (t == od::json_type::number) {
      std::string_view text = number_text(v);
      std::int64_t ms = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
      if (ec != std::errc() || end != text.data() + text.size()) {
        set(out, "timestamp", "a numeric timestamp must be whole milliseconds since the Unix epoch");
        return false;
      }
      out.event.timestamp = from_unix_ms(ms);
      return true;
    }
    reject(v, out, "timestamp",
           fmt::format("timestamp must be an RFC 3339 string or epoch milliseconds, not {}", type_name(t)));
    return false;
  }

  void read_metadata(od::value& v, od::json_type t, ParsedEvent& out) {
    if (t != od::json_type::object) {
      return reject(v, out, "metadata", fmt::format("metadata must be an object, not {}", type_name(t)));
    }
    buffer_.Clear();
    json::Writer writer(buffer_);
    if (!copy_json(v, writer, limits_.max_metadata_depth)) {
      return set(out, "metadata",
                 fmt::format("metadata is nested deeper than {} levels", limits_.max_metadata_depth));
    }
    out.event.metadata.assign(buffer_.GetString(), buffer_.GetSize());
  }

  const IngestLimits& limits_;
  Timestamp now_;
  std::string_view default_tenant_;
  std::string_view default_type_;
  rapidjson::StringBuffer buffer_;
};

Result<std::vector<ParsedEvent>> parse_ndjson(std::string_view body, const IngestLimits& limits,
                                              Timestamp now, std::string_view default_tenant,
                                              std::string_view default_type) {
  std::vector<ParsedEvent> items;
  EventReader reader(limits, now, default_tenant, default_type);
  json::Parser& state = json::thread_parser();
  std::size_t line_no = 0;
  while (!body.empty()) {
    std::size_t nl = body.find('\n');
    std::string_view line = trim(body.substr(0, nl));
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    if (items.size() == limits.max_events_per_request) return fail(json::too_many(limits));
    try {
      auto doc = take(state.parser.iterate(state.pad(line)));
      od::value root = take(doc.get_value());
      reader.read(root, items.emplace_back());
      if (json::has_trailing_content(doc)) throw Malformed{simdjson::TRAILING_CONTENT};
    } catch (const Malformed& m) {
      return fail(json::malformed(m.code, fmt::format(" at line {}", line_no)));
    }
  }
  if (items.empty()) return fail(Error::invalid("", "body holds no events"));
  return items;
}

}  // namespace

Result<std::vector<ParsedEvent>> parse_events(std::string_view body, BodyFormat format,
                                              const IngestLimits& limits, Timestamp now,
                                              std::string_view default_tenant,
                                              std::string_view default_type) {
  std::string_view trimmed = trim(body);
  if (trimmed.empty())
    return fail(Error::invalid("", "body is empty; send an event object, an array or NDJSON"));
  if (format == BodyFormat::kNdjson) return parse_ndjson(trimmed, limits, now, default_tenant, default_type);
  if (trimmed.front() != '{' && trimmed.front() != '[') {
    return fail(Error::invalid("", "body must be an event object, an array of them, or NDJSON"));
  }

  json::Parser& state = json::thread_parser();
  EventReader reader(limits, now, default_tenant, default_type);
  std::vector<ParsedEvent> items;
  try {
    auto doc = take(state.parser.iterate(state.pad(trimmed)));
    if (trimmed.front() == '[') {
      for (auto element : take(doc.get_array())) {
        if (items.size() == limits.max_events_per_request) return fail(json::too_many(limits));
        reader.read(take(std::move(element)), items.emplace_back());
      }
    } else {
      reader.read(take(doc.get_value()), items.emplace_back());
    }
    if (json::has_trailing_content(doc)) {
      if (trimmed.front() == '{') return parse_ndjson(trimmed, limits, now, default_tenant, default_type);
      throw Malformed{simdjson::TRAILING_CONTENT};
    }
  } catch (const Malformed& m) {
    return fail(json::malformed(m.code, ""));
  }
  if (items.empty()) return fail(Error::invalid("", "body holds no events"));
  return items;
}

Result<ParsedEvent> parse_single_event(std::string_view body, const IngestLimits& limits, Timestamp now,
                                       std::string_view default_tenant) {
  std::string_view trimmed = trim(body);
  if (trimmed.empty() || trimmed.front() != '{') {
    return fail(Error::invalid("", "body must be one JSON event object; send batches to /v1/events"));
  }
  json::Parser& state = json::thread_parser();
  EventReader reader(limits, now, default_tenant);
  ParsedEvent item;
  try {
    auto doc = take(state.parser.iterate(state.pad(trimmed)));
    reader.read(take(doc.get_value()), item);
    if (json::has_trailing_content(doc)) throw Malformed{simdjson::TRAILING_CONTENT};
  } catch (const Malformed& m) {
    return fail(json::malformed(m.code, ""));
  }
  return item;
}

}  // namespace meter::ingest
