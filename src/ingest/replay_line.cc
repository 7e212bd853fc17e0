#include "ingest/replay_line.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <xxhash.h>

namespace meter::ingest {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Copies the SAX events of one JSON object to a writer, numbers as their raw text, adjusting
// the few top-level fields the Python service's format spells differently.
class LineFilter {
 public:
  explicit LineFilter(Writer& out) : out_(out) {}

  bool Null() {
    return value([&] { return out_.Null(); });
  }
  bool Bool(bool b) {
    return value([&] { return out_.Bool(b); });
  }
  bool Int(int) { return false; }  // unreachable with kParseNumbersAsStringsFlag
  bool Uint(unsigned) { return false; }
  bool Int64(std::int64_t) { return false; }
  bool Uint64(std::uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return value([&] { return out_.RawValue(s, n, rapidjson::kNumberType); });
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    std::string_view text(s, n);
    if (depth_ == 1 && key_ == "timestamp" && !has_zone(text)) {
      std::string utc = std::string(text) + "Z";
      return value([&] { return out_.String(utc.data(), static_cast<rapidjson::SizeType>(utc.size())); });
    }
    if (depth_ == 1 && key_ == "metadata") {
      rapidjson::Document inner;
      inner.Parse(s, n);
      if (inner.HasParseError() || !inner.IsObject()) {
        error_ = "metadata is a string that is not a JSON object";
        return false;
      }
      return value([&] { return out_.RawValue(s, n, rapidjson::kObjectType); });
    }
    return value([&] { return out_.String(s, n); });
  }
  bool StartObject() {
    if (depth_ == 0) saw_id_ = false;
    ++depth_;
    return out_.StartObject();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) {
      key_.assign(s, n);
      if (key_ == "event_id") key_ = "id";
      if (key_ == "id") saw_id_ = true;
      return out_.Key(key_.data(), static_cast<rapidjson::SizeType>(key_.size()));
    }
    return out_.Key(s, n);
  }
  bool EndObject(rapidjson::SizeType) {
    if (--depth_ == 0 && !saw_id_) {
      out_.Key("id");
      out_.String(derived_id_.data(), static_cast<rapidjson::SizeType>(derived_id_.size()));
    }
    return out_.EndObject();
  }
  bool StartArray() {
    if (depth_ == 0) return false;
    ++depth_;
    return out_.StartArray();
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return out_.EndArray();
  }

  std::string derived_id_;
  std::string error_;

 private:
  template <class F>
  bool value(F write) {
    if (depth_ == 0) return false;  // a line must be an object
    return write();
  }
  // "2025-11-03T10:00:00Z" or "...+01:00" carry a zone; epoch digits are left alone too.
  static bool has_zone(std::string_view t) {
    std::size_t tee = t.find_first_of("Tt ");
    if (tee == std::string_view::npos) return true;
    std::string_view clock = t.substr(tee);
    return clock.find_first_of("Zz+-") != std::string_view::npos;
  }

  Writer& out_;
  int depth_ = 0;
  std::string key_;
  bool saw_id_ = false;
};

}  // namespace

Result<std::string> replay_line_to_event(std::string_view line, int occurrence) {
  XXH128_hash_t h = XXH3_128bits(line.data(), line.size());
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  LineFilter filter(writer);
  filter.derived_id_ = fmt::format("replay-{:016x}{:016x}-{}", h.high64, h.low64, occurrence);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(line.data(), line.size());
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag |
                              rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseValidateEncodingFlag;
  rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, filter);
  if (!ok) {
    if (!filter.error_.empty()) return fail(Error::invalid("metadata", filter.error_));
    if (ok.Code() == rapidjson::kParseErrorTermination) {
      return fail(Error::invalid("", "a line must be one JSON object"));
    }
    return fail(Error::invalid("", fmt::format("not valid JSON at byte {}: {}{}", ok.Offset(),
                                               rapidjson::GetParseError_En(ok.Code()),
                                               ok.Offset() >= line.size() ? " (a torn line?)" : "")));
  }
  std::size_t rest = stream.Tell();
  for (; rest < line.size(); ++rest) {
    char c = line[rest];
    if (c != ' ' && c != '\t' && c != '\r') return fail(Error::invalid("", "text after the JSON object"));
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace meter::ingest
