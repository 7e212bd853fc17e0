#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "support/free_port.h"
#include "support/temp_dir.h"

namespace meter::testing {

// A private PostgreSQL server (Debian's postgresql) on loopback, with its own port and data
// folder, started by scripts/postgres-test-server and stopped on destruction. stop() and
// start() again keep the data and the port: a server that goes away and comes back.
class PostgresServer {
 public:
  // Retries on another port when the one picked was taken in the meantime.
  PostgresServer() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      if (start()) return;
    }
    throw std::runtime_error("could not start PostgreSQL; see " + dir_.path().string() + "/pg/server.log");
  }
  ~PostgresServer() { stop(); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool start() {
    std::string cmd =
        script() + " start " + dir_.path().string() + " " + std::to_string(port_) + " >/dev/null";
    return std::system(cmd.c_str()) == 0;
  }
  void stop() {
    std::string cmd = script() + " stop " + dir_.path().string();
    (void)std::system(cmd.c_str());
  }

  // The URL of a database on it (meterd, created by the script, unless named).
  std::string url(const std::string& database = "meterd") const {
    return "postgresql://meterd@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

 private:
  static std::string script() { return std::string(METER_SOURCE_DIR) + "/scripts/postgres-test-server"; }

  TempDir dir_;
  int port_ = 0;
};

}  // namespace meter::testing
