#include "config/cloud_events.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace meter::config {
namespace {

Status error(const std::string& file, const std::string& key, const std::string& what) {
  return fail(Error::invalid("cloudevents", fmt::format("{}: {}: {}", file, key, what)));
}

// Reads a mapping's keys from `t`; `allowed` says which it may have.
Status read_mapping(const toml::table& t, const std::string& path, const std::string& file,
                    std::initializer_list<std::string_view> allowed, ingest::CloudEventMapping& m) {
  for (const auto& [k, node] : t) {
    std::string key = path + "." + std::string(k.str());
    if (k.str() == "types" && path == "cloudevents") continue;
    if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
      return error(file, key, fmt::format("unknown key (known: {})", fmt::join(allowed, ", ")));
    }
    if (!node.is_string()) return error(file, key, "expected a string");
    const std::string& value = node.as_string()->get();
    if (k.str() == "event_type") {
      m.event_type = value;
      continue;
    }
    if (auto problem = ingest::json_path_error(value)) return error(file, key, *problem);
    (k.str() == "value_property" ? m.value_property : m.tenant_property) = value;
  }
  return {};
}

}  // namespace

Status read_cloud_events(Config& config, const toml::table& table, const std::string& file) {
  ingest::CloudEventMappings mappings;
  if (auto s = read_mapping(table, "cloudevents", file, {"tenant_property", "value_property", "types"},
                            mappings.defaults);
      !s) {
    return s;
  }
  if (const toml::node* types = table.get("types")) {
    if (!types->is_table()) {
      return error(file, "cloudevents.types", "expected tables [cloudevents.types.\"com.example.type\"]");
    }
    for (const auto& [name, node] : *types->as_table()) {
      std::string path = fmt::format("cloudevents.types.\"{}\"", name.str());
      if (!node.is_table()) return error(file, path, "expected a table");
      ingest::CloudEventMapping m = mappings.defaults;
      m.type = std::string(name.str());
      if (auto s = read_mapping(*node.as_table(), path, file,
                                {"event_type", "value_property", "tenant_property"}, m);
          !s) {
        return s;
      }
      mappings.types.push_back(std::move(m));
    }
  }
  config.cloud_events = std::move(mappings);
  return {};
}

}  // namespace meter::config
