#include "meter/tracker.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/decimal.h"
#include "core/identifier.h"
#include "core/time.h"
#include "net/http_client.h"

namespace meter {
namespace {

using Clock = std::chrono::steady_clock;

// One event as a /v1/events NDJSON line. A quantity that is not a decimal, or metadata that is
// not an object, is written as a JSON string so that meterd rejects that event alone.
std::string to_line(const TrackedEvent& e) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  w.StartObject();
  w.Key("id"); str(e.id);
  w.Key("tenant_id"); str(e.tenant_id);
  w.Key("event_type"); str(e.event_type);
  w.Key("quantity");
  if (Decimal::parse(e.quantity)) w.RawValue(e.quantity.data(), e.quantity.size(), rapidjson::kNumberType);
  else str(e.quantity);
  w.Key("timestamp"); w.Int64(e.timestamp_ms);
  w.Key("metadata");
  rapidjson::Document meta;
  meta.Parse(e.metadata.data(), e.metadata.size());
  if (!meta.HasParseError() && meta.IsObject()) w.RawValue(e.metadata.data(), e.metadata.size(), rapidjson::kObjectType);
  else str(e.metadata);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

}  // namespace

struct Tracker::Impl {
  explicit Impl(TrackerOptions o) : options(std::move(o)), backoff(options.retry_backoff) {
    // Both buffers keep their capacity as they are swapped: track() never reallocates after
    // the first batches.
    buffer.reserve(std::min<std::size_t>(options.batch_size * 2, options.capacity));
    sender = std::thread([this] { run(); });
  }

  TrackerOptions options;
  std::mutex mutex;
  std::condition_variable wake_sender, room, done;
  std::vector<TrackedEvent> buffer;  // GUARDED_BY(mutex)
  std::uint64_t flush_requested = 0, flush_served = 0;  // GUARDED_BY(mutex)
  bool stopping = false;  // GUARDED_BY(mutex)
  bool room_wanted = false;  // GUARDED_BY(mutex): a producer waits for room (OverflowPolicy::kBlock)
  std::thread sender;

  std::mutex spill_mutex;
  std::FILE* spill = nullptr;  // GUARDED_BY(spill_mutex): the open spill file, appended to

  // Only the sender thread touches these.
  net::HttpClient http;
  Clock::time_point down_until{};
  std::chrono::milliseconds backoff;

  std::atomic<std::uint64_t> tracked{0}, sent{0}, rejected{0}, dropped{0}, spilled{0}, failures{0};

  bool track(TrackedEvent e) {
    if (e.id.empty()) e.id = new_event_id(std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    if (e.timestamp_ms == 0) e.timestamp_ms = to_unix_ms(std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    std::unique_lock lock(mutex);
    if (buffer.size() >= options.capacity) {
      switch (options.overflow) {
        case OverflowPolicy::kDrop:
          ++dropped;
          return false;
        case OverflowPolicy::kSpill:
          lock.unlock();
          write_spill(to_line(e), false);
          ++tracked;
          return true;
        case OverflowPolicy::kBlock:
          room_wanted = true;
          wake_sender.notify_one();
          room.wait(lock, [this] { return buffer.size() < options.capacity || stopping; });
          break;
      }
    }
    buffer.push_back(std::move(e));
    ++tracked;
    if (buffer.size() == options.batch_size) wake_sender.notify_one();
    return true;
  }

  void flush() {
    std::unique_lock lock(mutex);
    std::uint64_t mine = ++flush_requested;
    wake_sender.notify_one();
    done.wait(lock, [&] { return flush_served >= mine; });
  }

  void write_spill(const std::string& lines, bool sync) {
    std::lock_guard lock(spill_mutex);
    if (spill == nullptr) spill = std::fopen(options.spill_path.c_str(), "ab");
    if (spill == nullptr) return;  // nowhere to put it: counted as a failure by the caller's stats
    std::fwrite(lines.data(), 1, lines.size(), spill);
    if (sync) {
      std::fflush(spill);
      ::fsync(::fileno(spill));
    }
  }

  // Sends NDJSON lines; true when meterd answered for every event (stored, known or invalid).
  bool send(const std::string& body) {
    net::HttpRequest request = net::meterd_request("POST", options.url, "/v1/events", options.api_key, body, true);
    request.timeout = std::chrono::seconds(10);
    auto response = http.send(request);
    if (!response || (response->status != 200 && response->status != 207 && response->status != 400)) {
      ++failures;
      down_until = Clock::now() + backoff;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
      return false;
    }
    backoff = options.retry_backoff;
    rapidjson::Document doc;
    doc.Parse(response->body.data(), response->body.size());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("accepted")) {
      sent += doc["accepted"].GetUint64() + doc["duplicates"].GetUint64();
      rejected += doc["rejected"].GetUint64();
    }
    return true;
  }

  bool reachable() const { return Clock::now() >= down_until; }

  // Ships the spill file, if any: it is renamed aside first, so new spills go to a fresh file;
  // a shipment cut short is retried whole (meterd drops the events it already has).
  void ship_spill() {
    std::filesystem::path sending = options.spill_path;
    sending += ".sending";
    std::error_code ec;
    if (!std::filesystem::exists(sending, ec)) {
      std::lock_guard lock(spill_mutex);
      if (spill != nullptr) {
        std::fclose(spill);
        spill = nullptr;
      }
      if (!std::filesystem::exists(options.spill_path, ec)) return;
      std::filesystem::rename(options.spill_path, sending, ec);
      if (ec) return;
    }
    std::ifstream in(sending, std::ios::binary);
    std::string line, body;
    std::size_t lines = 0;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      body += line;
      body += '\n';
      if (++lines == options.batch_size) {
        if (!send(body)) return;
        body.clear();
        lines = 0;
      }
    }
    if (lines > 0 && !send(body)) return;
    std::filesystem::remove(sending, ec);
  }

  void deliver(std::vector<TrackedEvent>& events) {
    for (std::size_t start = 0; start < events.size(); start += options.batch_size) {
      std::string body;
      std::size_t end = std::min(events.size(), start + options.batch_size);
      for (std::size_t i = start; i < end; ++i) body += to_line(events[i]);
      if (!reachable() || !send(body)) {
        write_spill(body, true);
        spilled += end - start;
      }
    }
  }

  void run() {
    std::vector<TrackedEvent> batch;
    batch.reserve(buffer.capacity());
    for (;;) {
      std::uint64_t serving;
      bool stop;
      {
        std::unique_lock lock(mutex);
        wake_sender.wait_for(lock, options.flush_interval, [this] {
          return stopping || flush_requested > flush_served || buffer.size() >= options.batch_size || room_wanted;
        });
        batch.swap(buffer);
        room_wanted = false;
        serving = flush_requested;
        stop = stopping;
      }
      room.notify_all();
      deliver(batch);
      batch.clear();
      if (reachable()) ship_spill();
      {
        std::lock_guard lock(mutex);
        flush_served = serving;
        if (stop && buffer.empty()) {
          done.notify_all();
          break;
        }
      }
      done.notify_all();
    }
    std::lock_guard lock(spill_mutex);
    if (spill != nullptr) {
      std::fflush(spill);
      ::fsync(::fileno(spill));
      std::fclose(spill);
      spill = nullptr;
    }
  }
};

Tracker::Tracker(TrackerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Tracker::~Tracker() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake_sender.notify_one();
  impl_->room.notify_all();
  impl_->sender.join();
}

bool Tracker::track(TrackedEvent event) { return impl_->track(std::move(event)); }

void Tracker::flush() { impl_->flush(); }

TrackerStats Tracker::stats() const {
  return {impl_->tracked.load(), impl_->sent.load(), impl_->rejected.load(),
          impl_->dropped.load(), impl_->spilled.load(), impl_->failures.load()};
}

}  // namespace meter
