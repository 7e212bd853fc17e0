// `meterd replay FILE.jsonl`: sends a JSONL file of events (the Python service's
// usage_events_fallback.jsonl, or meterd's own event format) to a running meterd through
// /v1/events, so the server's dedupe, quotas and rollups apply exactly as for live traffic.
// Ids are kept (or derived from each line), so replaying a file again adds nothing.
#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "ingest/replay_line.h"
#include "net/http_client.h"

namespace meter::cli {
namespace {

struct Tally {
  std::int64_t lines = 0, accepted = 0, duplicates = 0, invalid = 0;
  std::vector<std::pair<std::int64_t, std::string>> problems;  // (line, why), the first few

  void invalid_line(std::int64_t line, std::string_view why) {
    ++invalid;
    if (problems.size() < 50) problems.emplace_back(line, why);
  }
};

class Replayer {
 public:
  Replayer(const ReplayArgs& args, Tally& tally) : args_(args), tally_(tally) {}

  // Sends one batch; false (with a message printed) when meterd cannot take it. Each failed
  // attempt is said at once, with a countdown to the next one.
  bool send(const std::string& body, const std::vector<std::int64_t>& line_numbers) {
    net::HttpRequest request =
        net::meterd_request("POST", args_.url, "/v1/events", args_.api_key, body, true);
    for (int attempt = 1;; ++attempt) {
      auto response = http_.send(request);
      std::string why =
          response ? fmt::format("HTTP {}: {}", response->status, response->body.substr(0, 300))
                   : fmt::format("meterd is unreachable at {} ({})", args_.url, response.error().message);
      // 429 without per-event results is the tenant's ingest rate: wait and send the batch again.
      bool retry = !response || response->status >= 500 || response->status == 429;
      if (response && (response->status == 200 || response->status == 207 || response->status == 400 ||
                       response->status == 429)) {
        rapidjson::Document doc;
        doc.Parse(response->body.data(), response->body.size());
        if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("results") && doc["results"].IsArray()) {
          count(doc["results"], line_numbers);
          return true;
        }
      }
      if (!retry || attempt == kAttempts) {
        std::fprintf(stderr, "\nmeterd replay: %s cannot take the batch: %s\n", args_.url.c_str(),
                     why.c_str());
        return false;
      }
      wait_visibly(why, attempt, std::chrono::milliseconds(250) * (1 << attempt));
    }
  }

  static constexpr int kAttempts = 8;

 private:
  void count(const rapidjson::Value& results, const std::vector<std::int64_t>& line_numbers) {
    for (const auto& r : results.GetArray()) {
      std::size_t index = r["index"].GetUint64();
      std::string_view status = r["status"].GetString();
      if (status == "accepted") {
        ++tally_.accepted;
      } else if (status == "duplicate") {
        ++tally_.duplicates;
      } else {
        const auto& e = r["error"];
        std::string field = e["field"].GetString();
        tally_.invalid_line(line_numbers.at(index),
                            (field.empty() ? "" : field + ": ") + std::string(e["detail"].GetString()));
      }
    }
  }

  // Sleeps `wait`, saying why and counting the seconds down (one line per attempt when stderr
  // is not a terminal).
  void wait_visibly(const std::string& why, int attempt, std::chrono::milliseconds wait) {
    bool tty = ::isatty(STDERR_FILENO) != 0;
    auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(wait + std::chrono::milliseconds(999)).count();
    if (!tty) {
      std::fprintf(stderr, "meterd replay: %s; attempt %d of %d, retrying in %lld s\n", why.c_str(), attempt,
                   kAttempts, static_cast<long long>(seconds));
      std::this_thread::sleep_for(wait);
      return;
    }
    std::fprintf(stderr, "\n");
    auto until = std::chrono::steady_clock::now() + wait;
    for (long long left = seconds; left > 0 && std::chrono::steady_clock::now() < until; --left) {
      std::fprintf(stderr, "\rmeterd replay: %s; attempt %d of %d, retrying in %lld s ", why.c_str(), attempt,
                   kAttempts, left);
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::seconds(1), until - std::chrono::steady_clock::now()));
    }
    std::fprintf(stderr, "\n");
  }

  const ReplayArgs& args_;
  Tally& tally_;
  net::HttpClient http_;
};

}  // namespace

int run_replay(const ReplayArgs& args) {
  std::ifstream in(args.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "meterd replay: cannot read %s\n", args.file.c_str());
    return 2;
  }
  in.seekg(0, std::ios::end);
  double total_bytes = static_cast<double>(in.tellg());
  in.seekg(0);

  Tally tally;
  Replayer replayer(args, tally);
  absl::flat_hash_map<std::uint64_t, int> seen;  // line hash -> occurrences so far
  bool tty = ::isatty(STDERR_FILENO) != 0;
  int last_tenth = -1;
  std::int64_t sent_bytes = 0;  // of the lines meterd has answered for
  auto progress = [&](bool done) {
    double fraction = total_bytes > 0 ? static_cast<double>(sent_bytes) / total_bytes : 1.0;
    if (done && total_bytes > 0 && sent_bytes >= static_cast<std::int64_t>(total_bytes)) fraction = 1.0;
    std::string line =
        fmt::format("replay {}: {:3.0f}% ({} lines, {} accepted, {} duplicate, {} invalid)", args.file,
                    fraction * 100, tally.lines, tally.accepted, tally.duplicates, tally.invalid);
    if (tty) {
      std::fprintf(stderr, "\r%s%s", line.c_str(), done ? "\n" : "");
    } else if (int tenth = static_cast<int>(fraction * 10); tenth != last_tenth || done) {
      last_tenth = tenth;
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  };

  // Say at once when meterd cannot be reached, before reading the file.
  {
    net::HttpClient probe;
    auto health = probe.send(net::meterd_request("GET", args.url, "/health", args.api_key, ""));
    if (!health) {
      std::fprintf(stderr,
                   "meterd replay: meterd is unreachable at %s (%s); start it (meterd serve) or pass --url; "
                   "retrying the first batch a few times\n",
                   args.url.c_str(), health.error().message.c_str());
    }
  }

  std::string body;
  std::vector<std::int64_t> numbers;
  std::int64_t batch_bytes = 0;
  std::string line;
  bool ok = true;
  for (std::int64_t number = 1; ok && std::getline(in, line); ++number) {
    batch_bytes += static_cast<std::int64_t>(line.size()) + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++tally.lines;
    int occurrence = seen[XXH3_64bits(line.data(), line.size())]++;
    auto event = ingest::replay_line_to_event(line, occurrence);
    if (!event) {
      std::string field = event.error().field;
      tally.invalid_line(number, (field.empty() ? "" : field + ": ") + event.error().message);
      continue;
    }
    body += *event;
    body += '\n';
    numbers.push_back(number);
    if (numbers.size() >= args.batch) {
      ok = replayer.send(body, numbers);
      if (!ok) break;
      sent_bytes += batch_bytes;
      batch_bytes = 0;
      body.clear();
      numbers.clear();
      progress(false);
    }
  }
  if (ok && !numbers.empty()) ok = replayer.send(body, numbers);
  std::int64_t unsent = 0;  // lines not answered for: the failed batch and the rest of the file
  if (ok) {
    sent_bytes = static_cast<std::int64_t>(total_bytes);
  } else {
    unsent = static_cast<std::int64_t>(numbers.size());
    in.clear();
    while (std::getline(in, line)) {
      if (line.find_first_not_of(" \t\r") != std::string::npos) ++unsent;
    }
    tally.lines -= static_cast<std::int64_t>(numbers.size());
  }
  progress(true);

  std::sort(tally.problems.begin(), tally.problems.end());
  for (const auto& [number, why] : tally.problems)
    std::fprintf(stderr, "  line %lld: %s\n", static_cast<long long>(number), why.c_str());
  if (tally.invalid > static_cast<std::int64_t>(tally.problems.size())) {
    std::fprintf(stderr, "  ... and %lld more\n",
                 static_cast<long long>(tally.invalid) - static_cast<long long>(tally.problems.size()));
  }
  std::printf("replayed %s: %lld lines, %lld accepted, %lld duplicate, %lld invalid\n", args.file.c_str(),
              static_cast<long long>(tally.lines), static_cast<long long>(tally.accepted),
              static_cast<long long>(tally.duplicates), static_cast<long long>(tally.invalid));
  if (!ok) {
    std::fprintf(stderr,
                 "meterd replay: stopped early with %lld lines not sent; run the same command again once "
                 "meterd is reachable (events already stored count as duplicates)\n",
                 static_cast<long long>(unsent));
    return 1;
  }
  return tally.invalid == 0 ? 0 : 1;
}

}  // namespace meter::cli
