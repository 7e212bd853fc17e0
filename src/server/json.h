#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/time.h"
#include "server/http_types.h"

namespace meter::server {

// Writes JSON responses. Decimals are written as strings ("1.5") so that no client parses a
// quantity or an amount into a binary float by accident; instants as RFC 3339 UTC.
class JsonOut {
 public:
  JsonOut() : writer_(buffer_) {}

  rapidjson::Writer<rapidjson::StringBuffer>& w() { return writer_; }
  JsonOut& key(std::string_view k) {
    writer_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    return *this;
  }
  JsonOut& str(std::string_view v) {
    writer_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    return *this;
  }
  JsonOut& num(std::int64_t v) {
    writer_.Int64(v);
    return *this;
  }
  JsonOut& dec(const Decimal& d) { return str(d.to_string()); }
  JsonOut& time(Timestamp t) { return str(format_rfc3339(t)); }
  JsonOut& boolean(bool b) {
    writer_.Bool(b);
    return *this;
  }
  JsonOut& null() {
    writer_.Null();
    return *this;
  }
  JsonOut& raw(std::string_view json) {
    writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
    return *this;
  }
  JsonOut& begin_object() {
    writer_.StartObject();
    return *this;
  }
  JsonOut& end_object() {
    writer_.EndObject();
    return *this;
  }
  JsonOut& begin_array() {
    writer_.StartArray();
    return *this;
  }
  JsonOut& end_array() {
    writer_.EndArray();
    return *this;
  }

  std::string text() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }
  HttpResponse response(int status = 200) const {
    HttpResponse r;
    r.status = status;
    r.body = text();
    return r;
  }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace meter::server
