#include "meter/tracker.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "core/decimal.h"
#include "core/identifier.h"
#include "core/sync.h"
#include "core/time.h"
#include "net/http_client.h"
#include "tracker/event_lanes.h"

namespace meter {
namespace {

using Steady = std::chrono::steady_clock;  // for back-off and flush timing, not event times

// Appends one event as a /v1/events NDJSON line. A quantity that is not a decimal, or metadata
// that is not an object, is written as a JSON string so that meterd rejects that event alone.
void append_line(const PackedEvent& e, std::string& out) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  w.StartObject();
  w.Key("id");
  str(e.id);
  w.Key("tenant_id");
  str(e.tenant_id);
  w.Key("event_type");
  str(e.event_type);
  w.Key("quantity");
  if (Decimal::parse(e.quantity))
    w.RawValue(e.quantity.data(), e.quantity.size(), rapidjson::kNumberType);
  else
    str(e.quantity);
  w.Key("timestamp");
  w.Int64(e.timestamp_ms);
  w.Key("metadata");
  rapidjson::Document meta;
  meta.Parse(e.metadata.data(), e.metadata.size());
  if (!meta.HasParseError() && meta.IsObject())
    w.RawValue(e.metadata.data(), e.metadata.size(), rapidjson::kObjectType);
  else
    str(e.metadata);
  w.EndObject();
  out.append(buffer.GetString(), buffer.GetSize());
  out += '\n';
}

// The default sink: meterd's /v1/events over HTTP, keep-alive, with the API key.
class HttpSink final : public Sink {
 public:
  HttpSink(std::string url, std::string api_key) : url_(std::move(url)), api_key_(std::move(api_key)) {}

  Delivery deliver(const std::string& ndjson) override {
    net::HttpRequest request = net::meterd_request("POST", url_, "/v1/events", api_key_, ndjson, true);
    request.timeout = std::chrono::seconds(10);
    auto response = http_.send(request);
    if (!response) {
      return Delivery::failure(
          fmt::format("cannot reach meterd at {}: {}; is it running? The events wait in the spill file", url_,
                      response.error().message));
    }
    // 207 and 400 answer for every event (some or all invalid); anything else is a failure.
    if (response->status == 401 || response->status == 403) {
      return Delivery::failure(
          fmt::format("meterd at {} answered {}: set TrackerOptions::api_key to a key allowed to write "
                      "these tenants (meterd keys create); the events wait in the spill file",
                      url_, response->status));
    }
    if (response->status != 200 && response->status != 207 && response->status != 400) {
      return Delivery::failure(
          fmt::format("meterd at {} answered {}: {}", url_, response->status, response->body.substr(0, 300)));
    }
    Delivery d{true, 0, 0, 0, {}};
    rapidjson::Document doc;
    doc.Parse(response->body.data(), response->body.size());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("accepted")) {
      d.accepted = doc["accepted"].GetUint64();
      d.known = doc["duplicates"].GetUint64();
      d.rejected = doc["rejected"].GetUint64();
    }
    return d;
  }

 private:
  std::string url_, api_key_;
  net::HttpClient http_;
};

}  // namespace

struct Tracker::Impl {
  Impl(TrackerOptions o, std::unique_ptr<Sink> s)
      : options(std::move(o)), sink(std::move(s)), backoff(options.retry_backoff) {
    sender = std::thread([this] { run(); });
  }

  TrackerOptions options;
  std::unique_ptr<Sink> sink;  // used by the sender thread only
  EventLanes lanes;
  // Events in the lanes: what the capacity bounds. Producers may overshoot it by one event each.
  std::atomic<std::size_t> pending{0};

  // The sender sleeps on these; producers take the mutex only to wake it (once per batch) or to
  // wait for room (OverflowPolicy::kBlock).
  Mutex mutex;
  CondVar wake_sender, room, done;
  std::uint64_t flush_requested ABSL_GUARDED_BY(mutex) = 0;
  std::uint64_t flush_served ABSL_GUARDED_BY(mutex) = 0;
  bool stopping ABSL_GUARDED_BY(mutex) = false;
  bool room_wanted ABSL_GUARDED_BY(mutex) = false;  // a producer waits for room (OverflowPolicy::kBlock)
  std::thread sender;

  Mutex spill_mutex;
  std::FILE* spill ABSL_GUARDED_BY(spill_mutex) = nullptr;  // the open spill file, appended to

  // Only the sender thread touches these.
  std::string batch_body;  // the request being built, kept so that its memory is reused
  Steady::time_point down_until{};
  std::chrono::milliseconds backoff;

  Mutex error_mutex;
  std::string last_error ABSL_GUARDED_BY(error_mutex);

  std::atomic<std::uint64_t> spilled_on_track{0}, sent{0}, rejected{0}, dropped{0}, spilled{0}, failures{0};

  bool track(const TrackedEvent& e) {
    auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    char generated_id[kEventIdLength];
    PackedEvent packed{e.id,       e.tenant_id, e.event_type,
                       e.quantity, e.metadata,  e.timestamp_ms != 0 ? e.timestamp_ms : to_unix_ms(now)};
    if (e.id.empty()) {
      write_event_id(now, generated_id);
      packed.id = std::string_view(generated_id, sizeof generated_id);
    }
    if (pending.load(std::memory_order_relaxed) >= options.capacity) {
      switch (options.overflow) {
        case OverflowPolicy::kDrop:
          ++dropped;
          return false;
        case OverflowPolicy::kSpill: {
          std::string line;
          append_line(packed, line);
          if (!write_spill(line, 1, false)) return false;
          ++spilled_on_track;
          return true;
        }
        case OverflowPolicy::kBlock: {
          MutexLock lock(mutex);
          room_wanted = true;
          wake_sender.notify_one();
          while (pending.load() >= options.capacity && !stopping) room.wait(mutex);
          break;
        }
      }
    }
    lanes.append(packed);
    if ((pending.fetch_add(1, std::memory_order_relaxed) + 1) % options.batch_size == 0) {
      MutexLock lock(mutex);  // so that a sender about to sleep cannot miss the wake-up
      wake_sender.notify_one();
    }
    return true;
  }

  void flush() {
    MutexLock lock(mutex);
    std::uint64_t mine = ++flush_requested;
    wake_sender.notify_one();
    while (flush_served < mine) done.wait(mutex);
  }

  // Appends `events` events' lines to the spill file and counts them as spilled; when the file
  // cannot be written they are lost: counted as dropped and said in last_error.
  bool write_spill(const std::string& lines, std::size_t events, bool sync) {
    bool written = false;
    {
      MutexLock lock(spill_mutex);
      if (spill == nullptr) spill = std::fopen(options.spill_path.c_str(), "ab");
      if (spill != nullptr) {
        written = std::fwrite(lines.data(), 1, lines.size(), spill) == lines.size();
        if (sync) written = std::fflush(spill) == 0 && ::fsync(::fileno(spill)) == 0 && written;
      }
    }
    if (written) {
      spilled += events;
      return true;
    }
    dropped += events;
    MutexLock lock(error_mutex);
    last_error = fmt::format(
        "cannot write the spill file {}: {}; {} events were lost. Make TrackerOptions::spill_path "
        "writable",
        options.spill_path.string(), std::strerror(errno), events);
    return false;
  }

  // Hands NDJSON lines to the sink; true when it answered for every event (stored, known or
  // invalid). A failure backs off before the next try.
  bool send(const std::string& body) {
    Sink::Delivery d = sink->deliver(body);
    if (!d.delivered) {
      {
        MutexLock lock(error_mutex);
        last_error = d.error.empty() ? "the sink did not take the batch" : d.error;
      }
      ++failures;
      down_until = Steady::now() + backoff;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
      return false;
    }
    backoff = options.retry_backoff;
    sent += d.accepted + d.known;
    rejected += d.rejected;
    return true;
  }

  bool reachable() const { return Steady::now() >= down_until; }

  // Ships the spill file, if any: it is renamed aside first, so new spills go to a fresh file;
  // a shipment cut short is retried whole (meterd drops the events it already has).
  void ship_spill() {
    std::filesystem::path sending = options.spill_path;
    sending += ".sending";
    std::error_code ec;
    if (!std::filesystem::exists(sending, ec)) {
      MutexLock lock(spill_mutex);
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

  // Sends a batch, or spills it while the sink is unreachable or failing.
  void deliver(const std::string& body, std::size_t events) {
    if (!reachable() || !send(body)) {
      write_spill(body, events, true);
    }
  }

  // Sends everything in the lanes, batch_size events per request.
  void deliver_lanes() {
    batch_body.clear();
    std::size_t events = 0;
    std::size_t drained = lanes.drain([&](const PackedEvent& e) {
      append_line(e, batch_body);
      if (++events == options.batch_size) {
        deliver(batch_body, events);
        batch_body.clear();
        events = 0;
      }
    });
    if (events > 0) deliver(batch_body, events);
    pending.fetch_sub(drained);
  }

  void run() {
    for (;;) {
      std::uint64_t serving;
      bool stop;
      {
        MutexLock lock(mutex);
        auto until = Steady::now() + options.flush_interval;
        while (!(stopping || flush_requested > flush_served || pending.load() >= options.batch_size ||
                 room_wanted) &&
               wake_sender.wait_until(mutex, until)) {
        }
        serving = flush_requested;
        stop = stopping;
      }
      deliver_lanes();
      {
        MutexLock lock(mutex);
        room_wanted = false;
      }
      room.notify_all();
      if (reachable()) ship_spill();
      {
        MutexLock lock(mutex);
        flush_served = serving;
        if (stop && pending.load() == 0) {
          done.notify_all();
          break;
        }
      }
      done.notify_all();
    }
    MutexLock lock(spill_mutex);
    if (spill != nullptr) {
      std::fflush(spill);
      ::fsync(::fileno(spill));
      std::fclose(spill);
      spill = nullptr;
    }
  }
};

Tracker::Tracker(TrackerOptions options)
    : Tracker(options, std::make_unique<HttpSink>(options.url, options.api_key)) {}

Tracker::Tracker(TrackerOptions options, std::unique_ptr<Sink> sink)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(sink))) {}

Tracker::~Tracker() {
  {
    MutexLock lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake_sender.notify_one();
  impl_->room.notify_all();
  impl_->sender.join();
}

bool Tracker::track(const TrackedEvent& event) { return impl_->track(event); }

void Tracker::flush() { impl_->flush(); }

TrackerStats Tracker::stats() const {
  TrackerStats out{impl_->lanes.appended() + impl_->spilled_on_track.load(),
                   impl_->sent.load(),
                   impl_->rejected.load(),
                   impl_->dropped.load(),
                   impl_->spilled.load(),
                   impl_->failures.load(),
                   {}};
  MutexLock lock(impl_->error_mutex);
  out.last_error = impl_->last_error;
  return out;
}

}  // namespace meter
