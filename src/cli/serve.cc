#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/server.h"
#include "config/plans.h"

namespace meter::cli {

int run_serve(const config::LoadedConfig& loaded, bool demo) {
  const config::Config& c = loaded.config;
  setup_logging(c);
  Server server(c, demo);
  for (auto phase : {&Server::open_stores, &Server::rebuild_state, &Server::start_threads, &Server::listen}) {
    if (auto s = (server.*phase)(); !s) {
      spdlog::critical("{}", s.error().message);
      return 1;
    }
  }
  server.run();
  server.stop();
  return 0;
}

int run_config_show(const config::LoadedConfig& loaded) {
  std::fputs(config::render_config(loaded).c_str(), stdout);
  return 0;
}

}  // namespace meter::cli
