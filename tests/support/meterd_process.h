#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "net/http_client.h"
#include "support/free_port.h"

extern char** environ;

namespace meter::testing {

// The real meterd binary (METERD_BIN) with its own data folder, stopped (SIGTERM) on
// destruction. It binds a port of the kernel's choosing (127.0.0.1:0) and says which on its
// first line, so no other process can take the port between picking and binding. Only a test
// that needs the address before meterd runs (a client that finds it down first) names a port.
class MeterdProcess {
 public:
  explicit MeterdProcess(const std::string& data_dir) { start(0, data_dir); }
  MeterdProcess(int port, const std::string& data_dir) { start(port, data_dir); }
  ~MeterdProcess() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    if (stdout_ != nullptr) std::fclose(stdout_);
  }
  MeterdProcess(const MeterdProcess&) = delete;
  MeterdProcess& operator=(const MeterdProcess&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  net::HttpResponse get(const std::string& path) {
    net::HttpClient client;
    auto r = client.send({"GET", url() + path, {}, {}, {}, {}, std::chrono::seconds(5)});
    return r ? *r : net::HttpResponse{};
  }

 private:
  void start(int port, const std::string& data_dir) {
    std::vector<std::string> args = {
        METERD_BIN,   "serve",  "--listen",    "127.0.0.1:" + std::to_string(port),
        "--data-dir", data_dir, "--log-level", "warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("cannot make a pipe for meterd's output");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    int spawned = posix_spawn(&pid_, METERD_BIN, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    // Kept open while meterd runs: it may write more, and a closed pipe would kill it.
    stdout_ = ::fdopen(out[0], "r");
    if (spawned != 0 || stdout_ == nullptr) throw std::runtime_error("cannot start meterd");
    char line[512];
    std::string first = std::fgets(line, sizeof line, stdout_) != nullptr ? line : "";
    auto at = first.find("serving http://127.0.0.1:");
    if (at == std::string::npos) throw std::runtime_error("meterd did not start: " + first);
    port_ = std::stoi(first.substr(at + std::string("serving http://127.0.0.1:").size()));
    for (int i = 0; i < 200; ++i) {
      if (get("/health").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("meterd did not answer");
  }

  int port_ = 0;
  pid_t pid_ = 0;
  std::FILE* stdout_ = nullptr;
};

}  // namespace meter::testing
