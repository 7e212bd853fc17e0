#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"

namespace meter::server {

// A small JSON object body (the Python service's quota and invoice requests, admin calls). Numbers are
// kept as their exact text, so decimals never pass through a double. Getters return nullopt
// for an absent or null field and an error, naming the field, for a wrong type.
class JsonBody {
 public:
  static Result<JsonBody> parse(std::string_view body);

  // Fails when the object has a field not in `allowed` (a typo must not be silently ignored).
  Status only(std::initializer_list<std::string_view> allowed) const {
    return only(std::span<const std::string_view>(allowed.begin(), allowed.size()));
  }
  Status only(std::span<const std::string_view> allowed) const;

  Result<std::optional<std::string>> string(std::string_view key) const;
  Result<std::optional<Decimal>> decimal(std::string_view key) const;
  Result<std::optional<std::int64_t>> integer(std::string_view key) const;
  // An array of strings.
  Result<std::optional<std::vector<std::string>>> strings(std::string_view key) const;
  // Whether the field is there and not null.
  bool has(std::string_view key) const { return find(key).has_value(); }

 private:
  // The value's type (from typed_) and, for numbers, its exact text (from exact_, parsed with
  // numbers as strings). nullptr when absent or null.
  struct Field {
    rapidjson::Type type;
    std::string_view text;
  };
  std::optional<Field> find(std::string_view key) const;

  std::unique_ptr<rapidjson::Document> typed_;
  std::unique_ptr<rapidjson::Document> exact_;
};

}  // namespace meter::server
