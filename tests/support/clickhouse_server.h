#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "support/free_port.h"
#include "support/temp_dir.h"

namespace meter::testing {

// A private ClickHouse server (Debian's clickhouse-server) on loopback, with its own ports and
// data folder, started by scripts/clickhouse-test-server and stopped on destruction.
class ClickHouseServer {
 public:
  // Retries on another port when the one picked was taken in the meantime.
  ClickHouseServer() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      std::string cmd =
          script() + " start " + dir_.path().string() + " " + std::to_string(port_) + " >/dev/null";
      if (std::system(cmd.c_str()) == 0) return;
    }
    throw std::runtime_error("could not start ClickHouse; see " + dir_.path().string() + "/log");
  }
  ~ClickHouseServer() {
    std::string cmd = script() + " stop " + dir_.path().string();
    (void)std::system(cmd.c_str());
  }
  ClickHouseServer(const ClickHouseServer&) = delete;
  ClickHouseServer& operator=(const ClickHouseServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static std::string script() { return std::string(METER_SOURCE_DIR) + "/scripts/clickhouse-test-server"; }

  TempDir dir_;
  int port_ = 0;
};

}  // namespace meter::testing
