#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"

namespace meter::config {

// One configurable value: its name in meterd.toml ("section.key"), its environment variable
// (the Python service's name where it had one), and how to read and print it.
struct Setting {
  std::string_view key;
  std::string_view env;
  std::string_view help;
  bool secret = false;
  // Sets the value from text; returns a message when the text is not acceptable.
  std::function<std::optional<std::string>(Config&, std::string_view)> set;
  std::function<std::string(const Config&)> get;
  bool quoted = true;  // printed as a TOML string
};

std::span<const Setting> all_settings();
const Setting* find_setting(std::string_view key_or_env);

}  // namespace meter::config
