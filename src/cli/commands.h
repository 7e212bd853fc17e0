#pragma once

#include "config/load.h"

namespace meter::cli {

// Each `meterd` subcommand; returns the process exit code.
int run_serve(const config::LoadedConfig& loaded);
int run_config_show(const config::LoadedConfig& loaded);

// Applies server.log_level and server.log_format to the default logger (stderr).
void setup_logging(const config::Config& config);

}  // namespace meter::cli
