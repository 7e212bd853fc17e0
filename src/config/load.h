#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/error.h"

namespace meter::config {

// Where settings come from, lowest precedence first: meterd.toml, a .env file in the Python service's
// format, the process environment, then flags (`overrides`, as setting key or env name).
struct ConfigSources {
  std::optional<std::filesystem::path> toml_file;  // default: ./meterd.toml when it exists
  std::optional<std::filesystem::path> env_file;   // default: ./.env when it exists
  char** environment = nullptr;                    // e.g. `environ`; null = ignore
  std::vector<std::pair<std::string, std::string>> overrides;
};

struct LoadedConfig {
  Config config;
  std::map<std::string, std::string, std::less<>> source_of;  // setting key -> where it came from
};

// Builds the effective configuration. An unknown key in meterd.toml, a malformed value
// anywhere, or a missing file named explicitly is an error naming the file and key.
Result<LoadedConfig> load_config(const ConfigSources& sources);

// The effective configuration as meterd.toml text, each line commented with its source.
// Secrets are masked.
std::string render_config(const LoadedConfig& loaded);

// Applies meterd.toml text (named `source` in messages) on top of `loaded`.
Status apply_toml_text(LoadedConfig& loaded, std::string_view text, const std::string& source);

// Parses .env text: KEY=VALUE lines, '#' comments, optional `export `, single or double quotes.
Result<std::vector<std::pair<std::string, std::string>>> parse_dotenv(std::string_view text);

}  // namespace meter::config
