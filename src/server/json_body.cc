#include "server/json_body.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include <charconv>
#include <set>

namespace meter::server {

Result<JsonBody> JsonBody::parse(std::string_view body) {
  JsonBody out;
  out.typed_ = std::make_unique<rapidjson::Document>();
  out.exact_ = std::make_unique<rapidjson::Document>();
  // Iterative: RapidJSON's default parser recurses, and a body of nested '[' would exhaust the
  // stack.
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  out.typed_->Parse<kFlags>(body.data(), body.size());
  if (out.typed_->HasParseError()) {
    return fail(Error::invalid("", fmt::format("body is not valid JSON: {} (at byte {})",
                                               rapidjson::GetParseError_En(out.typed_->GetParseError()),
                                               out.typed_->GetErrorOffset())));
  }
  if (!out.typed_->IsObject()) return fail(Error::invalid("", "body must be a JSON object"));
  out.exact_->Parse<kFlags | rapidjson::kParseNumbersAsStringsFlag>(body.data(), body.size());
  std::set<std::string_view> seen;
  for (const auto& member : out.typed_->GetObject()) {
    std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (!seen.insert(name).second)
      return fail(Error::invalid(std::string(name), fmt::format("duplicate field '{}'", name)));
  }
  return out;
}

std::optional<JsonBody::Field> JsonBody::find(std::string_view key) const {
  rapidjson::Value name(rapidjson::StringRef(key.data(), key.size()));
  auto typed = typed_->FindMember(name);
  if (typed == typed_->MemberEnd() || typed->value.IsNull()) return std::nullopt;
  auto exact = exact_->FindMember(name);
  Field f{typed->value.GetType(), {}};
  if (exact->value.IsString())
    f.text = std::string_view(exact->value.GetString(), exact->value.GetStringLength());
  return f;
}

Status JsonBody::only(std::span<const std::string_view> allowed) const {
  for (const auto& member : typed_->GetObject()) {
    std::string_view name(member.name.GetString(), member.name.GetStringLength());
    bool known = false;
    for (auto a : allowed) known = known || a == name;
    if (!known) return fail(Error::invalid(std::string(name), fmt::format("unknown field '{}'", name)));
  }
  return {};
}

Result<std::optional<std::string>> JsonBody::string(std::string_view key) const {
  auto f = find(key);
  if (!f) return std::optional<std::string>();
  if (f->type != rapidjson::kStringType) {
    return fail(Error::invalid(std::string(key), fmt::format("{} must be a string", key)));
  }
  return std::optional<std::string>(std::string(f->text));
}

Result<std::optional<Decimal>> JsonBody::decimal(std::string_view key) const {
  auto f = find(key);
  if (!f) return std::optional<Decimal>();
  if (f->type != rapidjson::kNumberType && f->type != rapidjson::kStringType) {
    return fail(Error::invalid(std::string(key), fmt::format("{} must be a number", key)));
  }
  auto d = Decimal::parse(f->text);
  if (!d) return fail(Error::invalid(std::string(key), fmt::format("{} is not a decimal number", key)));
  if (d->is_negative())
    return fail(Error::invalid(std::string(key), fmt::format("{} must not be negative", key)));
  return std::optional<Decimal>(*d);
}

Result<std::optional<std::vector<std::string>>> JsonBody::strings(std::string_view key) const {
  rapidjson::Value name(rapidjson::StringRef(key.data(), key.size()));
  auto member = typed_->FindMember(name);
  if (member == typed_->MemberEnd() || member->value.IsNull())
    return std::optional<std::vector<std::string>>();
  auto wrong = [&] {
    return fail(Error::invalid(std::string(key), fmt::format("{} must be an array of strings", key)));
  };
  if (!member->value.IsArray()) return wrong();
  std::vector<std::string> out;
  for (const auto& item : member->value.GetArray()) {
    if (!item.IsString()) return wrong();
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<std::int64_t>> JsonBody::integer(std::string_view key) const {
  auto f = find(key);
  if (!f) return std::optional<std::int64_t>();
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(f->text.data(), f->text.data() + f->text.size(), value);
  if (f->type != rapidjson::kNumberType || ec != std::errc() || end != f->text.data() + f->text.size()) {
    return fail(Error::invalid(std::string(key), fmt::format("{} must be a whole number", key)));
  }
  return std::optional<std::int64_t>(value);
}

}  // namespace meter::server
