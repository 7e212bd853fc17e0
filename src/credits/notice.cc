#include "credits/notice.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/identifier.h"

namespace meter::credits {

Notice make_notice(std::string tenant, std::string type, Timestamp at,
                   const std::vector<std::pair<std::string_view, std::string>>& fields) {
  Notice n;
  n.id = "ntc_" + new_event_id(at);
  n.ref = n.id;
  n.tenant_id = std::move(tenant);
  n.type = std::move(type);
  n.at = at;
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto pair = [&](std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  pair("id", n.id);
  pair("type", n.type);
  pair("tenant_id", n.tenant_id);
  pair("fired_at", format_rfc3339(at));
  for (const auto& [key, value] : fields) pair(key, value);
  w.EndObject();
  n.body.assign(buffer.GetString(), buffer.GetSize());
  return n;
}

}  // namespace meter::credits
