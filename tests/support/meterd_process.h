#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "net/http_client.h"
#include "support/clickhouse_server.h"  // free_port()

extern char** environ;

namespace meter::testing {

// The real meterd binary (METERD_BIN), serving on 127.0.0.1:port with its own data folder;
// stopped (SIGTERM) on destruction.
class MeterdProcess {
 public:
  MeterdProcess(int port, const std::string& data_dir) : port_(port) {
    std::vector<std::string> args = {
        METERD_BIN,   "serve",  "--listen",    "127.0.0.1:" + std::to_string(port),
        "--data-dir", data_dir, "--log-level", "warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, METERD_BIN, nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start meterd");
    }
    for (int i = 0; i < 200; ++i) {
      if (get("/health").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("meterd did not answer");
  }
  ~MeterdProcess() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  MeterdProcess(const MeterdProcess&) = delete;
  MeterdProcess& operator=(const MeterdProcess&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  net::HttpResponse get(const std::string& path) {
    net::HttpClient client;
    auto r = client.send({"GET", url() + path, {}, {}, {}, {}, std::chrono::seconds(5)});
    return r ? *r : net::HttpResponse{};
  }

 private:
  int port_;
  pid_t pid_ = 0;
};

}  // namespace meter::testing
