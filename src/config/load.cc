#include "config/load.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "config/cloud_events.h"
#include "config/plans.h"
#include "config/settings.h"

namespace meter::config {
namespace {

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Status apply(LoadedConfig& loaded, const Setting& setting, std::string_view value, std::string source) {
  if (auto problem = setting.set(loaded.config, value)) {
    return fail(Error::invalid(std::string(setting.key),
                               fmt::format("{} ({}): '{}' {}", setting.key, source, value, *problem)));
  }
  loaded.source_of.insert_or_assign(std::string(setting.key), std::move(source));
  return {};
}

// The exact text of a TOML value as written in the file, so 0.01 never passes through a double.
std::string source_text(const std::string& file_text, const toml::source_region& where) {
  std::size_t line = 1;
  std::size_t pos = 0;
  while (line < where.begin.line && pos != std::string::npos) {
    pos = file_text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
    ++line;
  }
  if (pos == std::string::npos) return {};
  std::size_t begin = pos + where.begin.column - 1;
  std::size_t end = where.end.line == where.begin.line ? pos + where.end.column - 1 : begin;
  std::string text = file_text.substr(begin, end - begin);
  std::erase(text, '_');  // TOML digit separators
  return text;
}

Status apply_toml(LoadedConfig& loaded, const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) return fail(Error::invalid("config", fmt::format("cannot read {}", path.string())));
  return apply_toml_text(loaded, *text, path.string());
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> parse_dotenv(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export ")) line = trim(line.substr(7));
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return fail(Error::invalid(".env", fmt::format(".env line {}: expected KEY=VALUE", line_no)));
    }
    std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      std::size_t close = value.find(value.front(), 1);
      if (close == std::string_view::npos) {
        return fail(Error::invalid(".env", fmt::format(".env line {}: unterminated quote", line_no)));
      }
      value = value.substr(1, close - 1);
    } else if (std::size_t hash = value.find(" #"); hash != std::string_view::npos) {
      value = trim(value.substr(0, hash));
    }
    out.emplace_back(std::string(key), std::string(value));
  }
  return out;
}

Status apply_toml_text(LoadedConfig& loaded, std::string_view file_text, const std::string& source_path) {
  std::string owned(file_text);
  const std::string* text = &owned;
  std::filesystem::path path(source_path);
  toml::table parsed;
  try {
    parsed = toml::parse(*text, source_path);
  } catch (const toml::parse_error& err) {
    return fail(Error::invalid("config", fmt::format("{}:{}:{}: {}", path.string(), err.source().begin.line,
                                                     err.source().begin.column, err.description())));
  }
  std::string source = path.filename().string();
  Status status;
  auto visit = [&](auto&& self, const toml::table& table, const std::string& prefix) -> void {
    for (const auto& [k, node] : table) {
      if (!status) return;
      std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (key == "plans" && node.is_table()) {
        auto number_text = [&](const toml::node& n) { return source_text(*text, n.source()); };
        status = read_plans(loaded.config, *node.as_table(), number_text, path.string());
        if (status) loaded.source_of.insert_or_assign("plans", source);
        continue;
      }
      if (key == "meters" && node.is_table()) {
        status = read_meters(loaded.config, *node.as_table(), path.string());
        continue;
      }
      if (key == "cloudevents" && node.is_table()) {
        status = read_cloud_events(loaded.config, *node.as_table(), path.string());
        continue;
      }
      if (const auto* sub = node.as_table()) {
        self(self, *sub, key);
        continue;
      }
      const Setting* setting = find_setting(key);
      if (setting == nullptr || setting->key != key) {
        status = fail(Error::invalid(
            key, fmt::format("{}: unknown setting '{}' (see `meterd config show`)", path.string(), key)));
        return;
      }
      std::string value;
      if (const auto* s = node.as_string()) {
        value = s->get();
      } else if (node.is_integer() || node.is_floating_point()) {
        value = source_text(*text, node.source());
      } else if (const auto* b = node.as_boolean()) {
        value = b->get() ? "true" : "false";
      } else {
        status = fail(Error::invalid(
            key, fmt::format("{}: {} must be a string, number or boolean", path.string(), key)));
        return;
      }
      status = apply(loaded, *setting, value, source);
    }
  };
  visit(visit, parsed, "");
  return status;
}

Result<LoadedConfig> load_config(const ConfigSources& sources) {
  LoadedConfig loaded;
  for (const Setting& s : all_settings()) loaded.source_of.emplace(std::string(s.key), "default");

  std::optional<std::filesystem::path> toml_file = sources.toml_file;
  if (!toml_file && std::filesystem::exists("meterd.toml")) toml_file = "meterd.toml";
  if (toml_file) {
    if (auto s = apply_toml(loaded, *toml_file); !s) return fail(s.error());
  }

  std::optional<std::filesystem::path> env_file = sources.env_file;
  if (!env_file && std::filesystem::exists(".env")) env_file = ".env";
  if (env_file) {
    auto text = read_file(*env_file);
    if (!text) return fail(Error::invalid(".env", fmt::format("cannot read {}", env_file->string())));
    auto pairs = parse_dotenv(*text);
    if (!pairs) return fail(pairs.error());
    for (const auto& [key, value] : *pairs) {
      // A .env file may hold other programs' variables too; only ours are read.
      if (const Setting* s = find_setting(key); s != nullptr && s->env == key) {
        if (auto st = apply(loaded, *s, value, env_file->filename().string()); !st) return fail(st.error());
      }
    }
  }

  for (char** env = sources.environment; env != nullptr && *env != nullptr; ++env) {
    std::string_view entry(*env);
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = entry.substr(0, eq);
    if (const Setting* s = find_setting(key); s != nullptr && s->env == key) {
      if (auto st = apply(loaded, *s, entry.substr(eq + 1), "env " + std::string(key)); !st)
        return fail(st.error());
    }
  }

  for (const auto& [key, value] : sources.overrides) {
    const Setting* s = find_setting(key);
    if (s == nullptr) {
      return fail(Error::invalid(key, fmt::format("unknown setting '{}' (see `meterd config show`)", key)));
    }
    if (auto st = apply(loaded, *s, value, "flag"); !st) return fail(st.error());
  }
  // A retry of a stored event must be recognised for as long as a fresh event would still be
  // accepted, or the retry of an old event is refused as late although it is stored.
  if (loaded.config.dedupe_window_days < loaded.config.late_window_days) {
    return fail(Error::invalid(
        "ingest.dedupe_window_days",
        fmt::format("ingest.dedupe_window_days ({}) must be at least ingest.late_window_days ({}), "
                    "plus the longest time a client may keep retrying",
                    loaded.config.dedupe_window_days, loaded.config.late_window_days)));
  }
  return loaded;
}

std::string render_config(const LoadedConfig& loaded) {
  std::string out = "# meterd's effective configuration; each value's source is in its comment.\n";
  auto line = [&](const Setting& s, std::string_view name) {
    std::string value = s.get(loaded.config);
    if (s.secret && !value.empty()) value = "********";
    std::string shown = s.quoted ? fmt::format("\"{}\"", value) : value;
    auto found = loaded.source_of.find(s.key);
    std::string source = found == loaded.source_of.end() ? "default" : found->second;
    // The environment variable is named once: as the source, or as where to set it.
    std::string env = fmt::format("env {}", s.env);
    out += source == env ? fmt::format("{} = {}  # {}\n", name, shown, source)
                         : fmt::format("{} = {}  # {}; {}\n", name, shown, source, env);
  };
  // TOML wants top-level keys before the first [section].
  for (const Setting& s : all_settings()) {
    if (s.key.find('.') == std::string_view::npos) line(s, s.key);
  }
  std::string_view section;
  for (const Setting& s : all_settings()) {
    std::size_t dot = s.key.find('.');
    if (dot == std::string_view::npos) continue;
    if (s.key.substr(0, dot) != section) {
      section = s.key.substr(0, dot);
      out += fmt::format("\n[{}]\n", section);
    }
    line(s, s.key.substr(dot + 1));
  }
  if (!loaded.config.plans.empty()) {
    std::string names;
    for (const auto& p : loaded.config.plans) names += (names.empty() ? "" : ", ") + p.name;
    out += fmt::format("\n# plans from {}: {} (GET /v1/plans shows them)\n", loaded.source_of.at("plans"),
                       names);
  }
  if (!loaded.config.cloud_events.types.empty()) {
    std::string types;
    for (const auto& m : loaded.config.cloud_events.types) types += (types.empty() ? "" : ", ") + m.type;
    out += fmt::format("\n# [cloudevents] mappings for: {}\n", types);
  }
  return out;
}

}  // namespace meter::config
