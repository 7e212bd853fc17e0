// The floor of a durable acknowledgement on this machine, measured with meterd's own HTTP server
// and none of meterd's ingest work: no JSON parse, no validation, no dedupe, no SQLite.
//   GET  /health   answers at once (the ceiling bench/run.sh compares /track with)
//   POST /ack      takes the body and answers at once (the cost of a body)
//   POST /durable  appends the body to a preallocated file with group commit (one writer thread,
//                  one pwrite and one fdatasync per group, no linger) and answers once it is on disk
// bench/durable_floor.sh runs wrk against each: /durable ÷ /health is the most any durable
// /track could reach here, whatever meterd did per event.
// Usage: durable_floor DIR   (prints "port N", serves until SIGINT/SIGTERM)
#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace {

using meter::server::HttpRequest;
using meter::server::HttpResponse;
using meter::server::Responder;

HttpResponse ok() {
  HttpResponse r;
  r.status = 200;
  r.content_type = "application/json";
  r.body = R"({"status":"accepted"})";
  return r;
}

// Group commit in its plainest form: whatever is queued when the writer comes round is written
// with one pwrite and made durable with one fdatasync, then every request in it is answered.
class GroupLog {
 public:
  explicit GroupLog(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd_ < 0) {
      std::perror("open");
      std::exit(1);
    }
    // Written once before serving, so that fdatasync flushes data only, never a file-size change.
    std::string zeros(1 << 20, '\0');
    for (int i = 0; i < kMegabytes; ++i) {
      if (::write(fd_, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) std::exit(1);
    }
    ::fsync(fd_);
    writer_ = std::thread([this] { run(); });
  }
  ~GroupLog() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
    ::close(fd_);
    if (groups_ > 0) {
      std::fprintf(stderr, "durable: %zu groups, %.1f requests per group\n", groups_,
                   static_cast<double>(answered_) / static_cast<double>(groups_));
    }
  }

  void append(std::string body, Responder respond) {
    {
      std::lock_guard lock(mutex_);
      queued_bytes_ += body;
      queued_.push_back(std::move(respond));
    }
    wake_.notify_one();
  }

 private:
  static constexpr int kMegabytes = 256;

  void run() {
    std::string bytes;
    std::vector<Responder> group;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
        if (queued_.empty()) return;
        bytes.swap(queued_bytes_);
        group.swap(queued_);
      }
      if (offset_ + bytes.size() > static_cast<std::size_t>(kMegabytes) << 20) offset_ = 0;
      if (::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset_)) < 0 ||
          ::fdatasync(fd_) != 0) {
        std::perror("pwrite/fdatasync");
        std::exit(1);
      }
      offset_ += bytes.size();
      for (auto& respond : group) respond(ok());
      ++groups_;
      answered_ += group.size();
      bytes.clear();
      group.clear();
    }
  }

  int fd_ = -1;
  std::size_t offset_ = 0;                 // writer thread only
  std::size_t groups_ = 0, answered_ = 0;  // writer thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string queued_bytes_;       // GUARDED_BY(mutex_)
  std::vector<Responder> queued_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;          // GUARDED_BY(mutex_)
  std::thread writer_;
};

class FloorHandler : public meter::server::HttpHandler {
 public:
  explicit FloorHandler(GroupLog& log) : log_(log) {}
  void handle(HttpRequest request, Responder respond) override {
    if (request.path == "/durable") return log_.append(std::move(request.body), std::move(respond));
    respond(ok());  // /health and /ack
  }

 private:
  GroupLog& log_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: durable_floor DIR\n");
    return 2;
  }
  GroupLog log(std::string(argv[1]) + "/durable_floor.log");
  FloorHandler handler(log);
  meter::server::HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  meter::server::HttpServer server(options, handler);
  if (auto s = server.listen(); !s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("port %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  server.run();
  return 0;
}
