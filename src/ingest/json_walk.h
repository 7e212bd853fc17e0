#pragma once

// Pieces of one simdjson On-Demand walk, shared by the ingest parsers (meterd's own events and
// CloudEvents). Malformed JSON unwinds as Malformed up to the parser's entry point; values are
// copied token by token, so every number keeps its exact text and never becomes a double.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"
#include "core/time.h"
#include "ingest/limits.h"

namespace meter::ingest::json {

namespace od = simdjson::ondemand;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct Malformed {
  simdjson::error_code code;
};

inline void check(simdjson::error_code code) {
  if (code != simdjson::SUCCESS) throw Malformed{code};
}

template <class T>
T take(simdjson::simdjson_result<T>&& result) {
  T value;
  check(std::move(result).get(value));
  return value;
}

std::string_view trim(std::string_view s);

// A number token's text, checked against JSON's number grammar.
std::string_view number_text(od::value& v);

// Copies a JSON value into the writer, validating every token on the way; false when the
// nesting is deeper than depth_left.
bool copy_json(od::value v, Writer& out, int depth_left);

// Walks a value that will not be used, so that malformed JSON inside it is still caught.
void skip_checked(od::value& v);

const char* type_name(od::json_type t);

// RFC 3339; a time without zone (Python's isoformat()) is read as UTC.
std::optional<Timestamp> parse_timestamp_text(std::string_view text);

// A quantity from its text (a JSON number's or a string's); the error names `field`.
Result<Decimal> parse_quantity(std::string_view text, const std::string& field);

// Per-thread parser state: simdjson wants padded input and reuses its buffers. Two per
// thread, so that a value found by one walk can be parsed again by another.
struct Parser {
  od::parser parser;
  std::string scratch;

  simdjson::padded_string_view pad(std::string_view text);
};
Parser& thread_parser();
Parser& thread_inner_parser();

// The members of one JSON object's text, each as (key, the value's exact JSON text), in order:
// for requests that carry events or metadata inside a larger object (corrections). Fails when
// the text is not one valid object.
Result<std::vector<std::pair<std::string, std::string>>> object_members(std::string_view text);

// True when the document has content after its root value.
bool has_trailing_content(od::document& doc);

Error malformed(simdjson::error_code code, std::string_view where);

// A body holding more than limits.max_events_per_request events (413).
Error too_many(const IngestLimits& limits);

}  // namespace meter::ingest::json
