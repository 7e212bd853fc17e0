#include "ingest/cloud_event.h"

#include <fmt/format.h>

#include <array>

#include "core/time.h"
#include "ingest/json_walk.h"
#include "ingest/validate.h"

namespace meter::ingest {
namespace {

namespace od = json::od;
using json::Malformed, json::skip_checked, json::take;

// A CloudEvent's context attributes and data as sent, before the mapping reads them.
struct Attributes {
  std::optional<std::string> specversion, id, source, type, subject, time;
  std::string data;  // data's JSON text, when it is an object
  bool data_is_object = false;
  bool binary_data = false;  // data_base64, or a binary-mode body that is not JSON
};

std::optional<std::string>* attribute(Attributes& a, std::string_view name) {
  if (name == "specversion") return &a.specversion;
  if (name == "id") return &a.id;
  if (name == "source") return &a.source;
  if (name == "type") return &a.type;
  if (name == "subject") return &a.subject;
  if (name == "time") return &a.time;
  return nullptr;
}

// A value the mapping takes out of data: its member names ("$.usage.tokens" -> usage,
// tokens), and what was found there.
struct Pick {
  std::vector<std::string_view> path;
  std::optional<od::json_type> found;
  std::string text;  // a number's or a string's text
};

std::vector<std::string_view> path_members(std::string_view path) {
  std::vector<std::string_view> members;
  path.remove_prefix(2);  // "$."
  while (true) {
    std::size_t dot = path.find('.');
    members.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) return members;
    path.remove_prefix(dot + 1);
  }
}

constexpr std::size_t kMaxPicks = 2;
using Picks = std::array<Pick*, kMaxPicks>;

// Copies a data object to `out` without the members `picks` name (which it records in them).
// `depth_left` counts the object itself; false when the data is nested deeper.
bool split(od::object object, const Picks& picks, std::size_t depth, json::Writer& out, int depth_left) {
  if (depth_left == 0) return false;
  out.StartObject();
  for (auto field : object) {
    std::string_view key = take(field.unescaped_key());
    od::value v = take(field.value());
    Picks through{};
    std::size_t n_through = 0;
    bool picked = false;
    for (Pick* p : picks) {
      if (p == nullptr || p->path.size() <= depth || p->path[depth] != key) continue;
      if (p->path.size() == depth + 1) {
        picked = true;
      } else {
        through[n_through++] = p;
      }
    }
    if (picked) {
      auto type = take(v.type());
      std::string text;
      if (type == od::json_type::number) {
        text = json::number_text(v);
      } else if (type == od::json_type::string) {
        text = take(v.get_string());
      } else {
        skip_checked(v);
      }
      for (Pick* p : picks) {
        if (p != nullptr && p->path.size() == depth + 1 && p->path[depth] == key) {
          p->found = type;
          p->text = text;
        }
      }
      continue;
    }
    out.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    if (n_through > 0 && take(v.type()) == od::json_type::object) {
      if (!split(take(v.get_object()), through, depth + 1, out, depth_left - 1)) return false;
    } else if (!json::copy_json(v, out, depth_left - 1)) {
      return false;
    }
  }
  out.EndObject();
  return true;
}

std::string attribute_of(const std::string& field, const CloudEventMapping& m) {
  if (field == "tenant_id" && !m.tenant_property.empty()) return "data";
  return cloud_event_attribute(field);
}

class Mapper {
 public:
  Mapper(const CloudEventMappings& mappings, const IngestLimits& limits, Timestamp now,
         std::string_view default_tenant)
      : mappings_(mappings), limits_(limits), now_(now), default_tenant_(default_tenant) {}

  void map(const Attributes& a, ParsedEvent& out) {
    if (!a.specversion) return set(out, "specversion", "specversion is required; send \"1.0\"");
    if (*a.specversion != "1.0") {
      return set(out, "specversion",
                 fmt::format("specversion '{}' is not supported; meterd reads CloudEvents 1.0",
                             a.specversion->substr(0, 16)));
    }
    for (auto [name, value] : {std::pair{"id", &a.id}, {"source", &a.source}, {"type", &a.type}}) {
      if (!*value || (*value)->empty()) return set(out, name, fmt::format("{} is required", name));
    }
    const CloudEventMapping& m = mappings_.for_type(*a.type);
    Event& e = out.event;
    e.id = *a.id;
    e.event_type = m.event_type.empty() ? *a.type : m.event_type;
    e.received_at = now_;

    Pick value, tenant;
    Picks picks{};
    if (!m.value_property.empty()) {
      value.path = path_members(m.value_property);
      picks[0] = &value;
    }
    if (!m.tenant_property.empty()) {
      tenant.path = path_members(m.tenant_property);
      picks[1] = &tenant;
    }
    e.metadata = "{}";
    if (a.data_is_object) {
      json::Parser& inner = json::thread_inner_parser();
      auto doc = take(inner.parser.iterate(inner.pad(a.data)));
      buffer_.Clear();
      json::Writer writer(buffer_);
      if (!split(take(doc.get_object()), picks, 0, writer, limits_.max_metadata_depth)) {
        return set(out, "data",
                   fmt::format("data is nested deeper than {} levels", limits_.max_metadata_depth));
      }
      e.metadata.assign(buffer_.GetString(), buffer_.GetSize());
    }

    if (!m.tenant_property.empty()) {
      if (tenant.found != od::json_type::string)
        return missing(out, a, m.tenant_property, "tenant_property", "string");
      e.tenant_id = tenant.text;
    } else if (a.subject) {
      e.tenant_id = *a.subject;
    } else if (!default_tenant_.empty()) {
      e.tenant_id = std::string(default_tenant_);
    } else {
      return set(out, "subject",
                 "subject is required: it names the tenant billed for the event (or set tenant_property "
                 "in meterd.toml's [cloudevents])");
    }

    if (m.value_property.empty()) {
      e.quantity = *Decimal::from_integer(1);
    } else {
      if (value.found != od::json_type::number && value.found != od::json_type::string) {
        return missing(out, a, m.value_property, "value_property", "number");
      }
      auto q = json::parse_quantity(value.text, m.value_property);
      if (!q) return set(out, "data", q.error().message);
      e.quantity = *q;
    }

    e.timestamp = now_;
    if (a.time) {
      auto t = parse_rfc3339(*a.time);
      if (!t) {
        return set(
            out, "time",
            fmt::format("time '{}' is not RFC 3339 (e.g. 2026-11-27T10:00:00Z)", a.time->substr(0, 64)));
      }
      e.timestamp = *t;
    }
    if (auto err = validate_event(e, limits_, now_)) {
      err->field = attribute_of(err->field, m);
      out.error = std::move(err);
    }
  }

 private:
  static void set(ParsedEvent& out, const char* field, std::string message) {
    out.error = Error::invalid(field, std::move(message));
  }

  static void missing(ParsedEvent& out, const Attributes& a, const std::string& path, const char* setting,
                      const char* kind) {
    std::string why = a.data_is_object ? fmt::format("data has no {} at {}", kind, path)
                      : a.binary_data
                          ? fmt::format("data is binary, so it has no {} at {}", kind, path)
                          : fmt::format("data is not a JSON object, so it has no {} at {}", kind, path);
    set(out, "data",
        fmt::format("{} ({} for type '{}' in meterd.toml's [cloudevents])", why, setting, *a.type));
  }

  const CloudEventMappings& mappings_;
  const IngestLimits& limits_;
  Timestamp now_;
  std::string_view default_tenant_;
  rapidjson::StringBuffer buffer_;
};

// Reads one structured-mode event's members. Field problems go to out.error.
void read_structured(od::value value, Attributes& a, ParsedEvent& out) {
  auto type = take(value.type());
  if (type != od::json_type::object) {
    skip_checked(value);
    out.error =
        Error::invalid("", fmt::format("a CloudEvent must be a JSON object, not {}", json::type_name(type)));
    return;
  }
  for (auto field : take(value.get_object())) {
    std::string_view key = take(field.unescaped_key());
    od::value v = take(field.value());
    auto vt = take(v.type());
    if (auto* attr = attribute(a, key)) {
      if (vt == od::json_type::string) {
        *attr = std::string(take(v.get_string()));
        continue;
      }
      skip_checked(v);
      // OPTIONAL attributes may be null; a REQUIRED one that is null is reported as missing.
      if (vt != od::json_type::null && !out.error) {
        out.error = Error::invalid(std::string(key),
                                   fmt::format("{} must be a string, not {}", key, json::type_name(vt)));
      }
    } else if (key == "data" && vt == od::json_type::object) {
      a.data = take(take(v.get_object()).raw_json());
      a.data_is_object = true;
    } else {
      a.binary_data = a.binary_data || key == "data_base64";
      skip_checked(v);  // data of another type, datacontenttype, dataschema, extensions
    }
  }
}

bool is_json_media_type(std::string_view type) {
  return type.empty() || type == "application/json" || type == "text/json" ||
         (type.size() > 5 && type.substr(type.size() - 5) == "+json");
}

}  // namespace

std::string cloud_event_attribute(std::string_view field) {
  if (field == "tenant_id") return "subject";
  if (field == "event_type") return "type";
  if (field == "timestamp") return "time";
  if (field == "metadata" || field == "quantity") return "data";
  return std::string(field);
}

const CloudEventMapping& CloudEventMappings::for_type(std::string_view type) const {
  for (const auto& m : types) {
    if (m.type == type) return m;
  }
  return defaults;
}

std::optional<std::string> json_path_error(std::string_view path) {
  if (path.size() < 3 || path.substr(0, 2) != "$.") {
    return fmt::format("'{}' is not a JSON path such as $.tokens or $.usage.input", path);
  }
  for (std::string_view member : path_members(path)) {
    if (member.empty() || member.find_first_of("[]*'\"") != std::string_view::npos) {
      return fmt::format("'{}': meterd follows member names only ($.usage.input), not indexes or filters",
                         path);
    }
  }
  return std::nullopt;
}

Result<std::vector<ParsedEvent>> parse_cloud_events(std::string_view body, bool batch,
                                                    const CloudEventMappings& mappings,
                                                    const IngestLimits& limits, Timestamp now,
                                                    std::string_view default_tenant) {
  std::string_view trimmed = json::trim(body);
  char expected = batch ? '[' : '{';
  if (trimmed.empty() || trimmed.front() != expected) {
    return fail(
        Error::invalid("", batch ? "a CloudEvents batch (application/cloudevents-batch+json) is a JSON array"
                                 : "a CloudEvent (application/cloudevents+json) is one JSON object; "
                                   "send batches as application/cloudevents-batch+json"));
  }
  json::Parser& state = json::thread_parser();
  Mapper mapper(mappings, limits, now, default_tenant);
  std::vector<ParsedEvent> items;
  try {
    auto doc = take(state.parser.iterate(state.pad(trimmed)));
    auto one = [&](od::value v) {
      Attributes a;
      ParsedEvent& item = items.emplace_back();
      read_structured(v, a, item);
      if (!item.error) mapper.map(a, item);
    };
    if (batch) {
      for (auto element : take(doc.get_array())) {
        if (items.size() == limits.max_events_per_request) return fail(json::too_many(limits));
        one(take(std::move(element)));
      }
    } else {
      one(take(doc.get_value()));
    }
    if (json::has_trailing_content(doc)) throw Malformed{simdjson::TRAILING_CONTENT};
  } catch (const Malformed& m) {
    return fail(json::malformed(m.code, ""));
  }
  return items;
}

Result<ParsedEvent> parse_binary_cloud_event(const CloudEventHeaders& headers, std::string_view body,
                                             const CloudEventMappings& mappings, const IngestLimits& limits,
                                             Timestamp now, std::string_view default_tenant) {
  Attributes a;
  for (const auto& [name, value] : headers.attributes) {
    if (auto* attr = attribute(a, name)) *attr = value;
  }
  std::string_view data = json::trim(body);
  bool json_data = !data.empty() && is_json_media_type(headers.content_type);
  a.binary_data = !data.empty() && !json_data;
  if (json_data && data.front() == '{') {
    a.data = std::string(data);
    a.data_is_object = true;
  }
  ParsedEvent item;
  try {
    if (json_data) {
      // All of the body is checked, not only the members the mapping reads.
      json::Parser& state = json::thread_parser();
      auto doc = take(state.parser.iterate(state.pad(data)));
      od::value root = take(doc.get_value());
      skip_checked(root);
      if (json::has_trailing_content(doc)) throw Malformed{simdjson::TRAILING_CONTENT};
    }
    Mapper(mappings, limits, now, default_tenant).map(a, item);
  } catch (const Malformed& m) {
    return fail(json::malformed(m.code, ""));
  }
  return item;
}

}  // namespace meter::ingest
