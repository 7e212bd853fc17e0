#include "ingest/json_walk.h"

#include <fmt/format.h>

namespace meter::ingest::json {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  return s;
}

// JSON's number grammar, which simdjson's on-demand API does not check for skipped tokens.
bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

std::string_view number_text(od::value& v) {
  std::string_view text = trim(v.raw_json_token());
  if (!is_json_number(text)) throw Malformed{simdjson::NUMBER_ERROR};
  return text;
}

// Copies a JSON value into the writer, validating every token on the way; false when the
// nesting is deeper than allowed.
bool copy_json(od::value v, Writer& out, int depth_left) {
  switch (take(v.type())) {
    case od::json_type::object: {
      if (depth_left == 0) return false;
      out.StartObject();
      for (auto field : take(v.get_object())) {
        std::string_view key = take(field.unescaped_key());
        out.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
        if (!copy_json(take(field.value()), out, depth_left - 1)) return false;
      }
      out.EndObject();
      return true;
    }
    case od::json_type::array: {
      if (depth_left == 0) return false;
      out.StartArray();
      for (auto element : take(v.get_array())) {
        if (!copy_json(take(std::move(element)), out, depth_left - 1)) return false;
      }
      out.EndArray();
      return true;
    }
    case od::json_type::number: {
      std::string_view text = number_text(v);
      out.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      return true;
    }
    case od::json_type::string: {
      std::string_view s = take(v.get_string());
      out.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      return true;
    }
    case od::json_type::boolean:
      out.Bool(take(v.get_bool()));
      return true;
    case od::json_type::null:
      if (!take(v.is_null())) throw Malformed{simdjson::N_ATOM_ERROR};
      out.Null();
      return true;
  }
  return true;
}

// Walks a value that will not be used, so that malformed JSON inside it is still caught.
// The walk recurses, so nesting is capped: a body of a million '[' must not exhaust the stack.
constexpr int kMaxSkippedDepth = 64;

void skip_checked(od::value& v) {
  rapidjson::StringBuffer sink;
  Writer writer(sink);
  if (!copy_json(v, writer, kMaxSkippedDepth)) throw Malformed{simdjson::DEPTH_ERROR};
}

std::optional<Timestamp> parse_timestamp_text(std::string_view text) {
  if (auto t = parse_rfc3339(text)) return t;
  // Python's datetime.isoformat() has no zone; the Python service wrote such timestamps, in UTC.
  std::string with_zone(text);
  with_zone.push_back('Z');
  return parse_rfc3339(with_zone);
}

const char* type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "?";
}

Result<Decimal> parse_quantity(std::string_view text, const std::string& field) {
  auto q = Decimal::parse(text);
  if (!q) {
    return fail(Error::invalid(field, fmt::format("{} '{}' is not a decimal with at most {} fractional "
                                                  "digits within ±1e26",
                                                  field, text.substr(0, 64), Decimal::kScale)));
  }
  return *q;
}

simdjson::padded_string_view Parser::pad(std::string_view text) {
  scratch.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  scratch.assign(text);
  return simdjson::padded_string_view(scratch.data(), text.size(), scratch.capacity());
}

Parser& thread_parser() {
  thread_local Parser parser;
  return parser;
}

Parser& thread_inner_parser() {
  thread_local Parser parser;
  return parser;
}

Result<std::vector<std::pair<std::string, std::string>>> object_members(std::string_view text) {
  std::string_view trimmed = trim(text);
  if (trimmed.empty() || trimmed.front() != '{')
    return fail(Error::invalid("", "body must be a JSON object"));
  Parser& state = thread_inner_parser();
  std::vector<std::pair<std::string, std::string>> members;
  try {
    auto doc = take(state.parser.iterate(state.pad(trimmed)));
    for (auto field : take(doc.get_object())) {
      std::string key(take(field.unescaped_key()));
      od::value v = take(field.value());
      std::string_view raw;
      switch (take(v.type())) {
        case od::json_type::object:
          raw = take(take(v.get_object()).raw_json());
          break;
        case od::json_type::array:
          raw = take(take(v.get_array()).raw_json());
          break;
        default:
          raw = trim(v.raw_json_token());
          skip_checked(v);
      }
      members.emplace_back(std::move(key), std::string(raw));
    }
    if (has_trailing_content(doc)) throw Malformed{simdjson::TRAILING_CONTENT};
  } catch (const Malformed& m) {
    return fail(malformed(m.code, ""));
  }
  return members;
}

// (simdjson 3.0 lacks at_end(): current_location() fails with OUT_OF_BOUNDS exactly when
// everything was consumed.)
bool has_trailing_content(od::document& doc) {
  auto where = doc.current_location();
  return where.error() == simdjson::SUCCESS;
}

Error malformed(simdjson::error_code code, std::string_view where) {
  return Error::invalid("",
                        fmt::format("body is not valid JSON{}: {}", where, simdjson::error_message(code)));
}

Error too_many(const IngestLimits& limits) {
  return Error{
      ErrorCode::kTooLarge,
      fmt::format("a request may hold at most {} events; split the batch", limits.max_events_per_request),
      ""};
}

}  // namespace meter::ingest::json
