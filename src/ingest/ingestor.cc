#include "ingest/ingestor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace meter::ingest {
namespace {

Error late_error(Timestamp timestamp, std::chrono::milliseconds late_window) {
  return Error::invalid(
      "timestamp",
      fmt::format("timestamp {} is older than the late-arrival window of {} days", format_rfc3339(timestamp),
                  std::chrono::duration_cast<std::chrono::days>(late_window).count()));
}

}  // namespace

Ingestor::Ingestor(store::EventLog& store, DedupeIndex& index, const Clock& clock, IngestorOptions options,
                   Admission* admission)
    : store_(store), index_(index), clock_(clock), options_(options), admission_(admission) {}

Ingestor::~Ingestor() { stop(); }

Status Ingestor::start(const store::RowCursor* after) {
  Timestamp now = clock_.now();
  Timestamp received_since = now - options_.dedupe_window;
  auto started = std::chrono::steady_clock::now();
  // An index on disk is complete up to the rows there are now, once the scan has read past them.
  store::RowCursor scanned_to;
  if (index_.persistent()) {
    index_.expire(received_since);
    auto rows = store_.row_cursor();
    if (!rows) return fail(rows.error());
    scanned_to = std::move(*rows);
  }
  // Keys are inserted a chunk at a time, so that their slots can be fetched ahead.
  std::vector<std::pair<DedupeKey, Timestamp>> chunk;
  chunk.reserve(4096);
  std::size_t read = 0;
  auto next_progress = started + std::chrono::seconds(5);
  Status written;
  auto insert_chunk = [&] {
    index_.insert_all(chunk);
    read += chunk.size();
    chunk.clear();
    if (written && index_.persistent()) written = index_.stored(nullptr);
    if (std::chrono::steady_clock::now() >= next_progress) {
      spdlog::info("dedupe index: {} ids read from the stored events so far", read);
      next_progress += std::chrono::seconds(5);
    }
  };
  std::size_t known = index_.size();
  auto status =
      store_.scan_recent_ids(received_since, received_since - options_.late_window, after,
                             [&](std::string_view tenant, std::string_view id, Timestamp received_at) {
                               chunk.emplace_back(dedupe_key(tenant, id), received_at);
                               if (chunk.size() == chunk.capacity()) insert_chunk();
                             });
  if (!status) return status;
  insert_chunk();
  if (written && index_.persistent()) written = index_.stored(&scanned_to);
  if (!written) return written;
  checkpoint_ = std::move(scanned_to);
  dedupe_size_ = index_.size();
  dedupe_filter_ready_ = index_.filter_ready();
  auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  auto days = std::chrono::duration_cast<std::chrono::days>(options_.dedupe_window).count();
  if (index_.persistent()) {
    spdlog::info(
        "dedupe index on disk ready: about {} ids received in the last {} days ({} added from the {} events "
        "{}), in {} ms",
        index_.size(), days, index_.size() - known, read,
        after != nullptr ? "stored since its checkpoint" : "of the window", took);
  } else {
    spdlog::info("dedupe index rebuilt: {} ids received in the last {} days ({} from the events{}), in {} ms",
                 index_.size(), days, index_.size() - known,
                 after != nullptr ? " stored since the snapshot" : "", took);
  }
  next_expiry_ = now + std::chrono::hours(1);
  next_checkpoint_ = now + kCheckpointInterval;
  writer_ = std::thread([this] { run(); });
  return {};
}

void Ingestor::submit(std::vector<Event> events, Completion done, Kind kind) {
  std::size_t count = events.size();
  {
    MutexLock lock(mutex_);
    if (stopping_) {
      done(fail(Error::unavailable("meterd is shutting down; retry against another node or later")));
      return;
    }
    if (queued_events_.load() + count > options_.max_queued_events) {
      done(fail(Error::unavailable("the ingest queue is full; retry with backoff")));
      return;
    }
    queued_events_ += count;
    queue_.push_back({std::move(events), std::move(done), kind, {}});
  }
  wake_.notify_one();
}

bool Ingestor::run_between_groups(std::move_only_function<void()> task) {
  {
    MutexLock lock(mutex_);
    if (stopping_) return false;
    queue_.push_back({{}, {}, Kind::kUsage, std::move(task)});
  }
  wake_.notify_one();
  return true;
}

void Ingestor::stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void Ingestor::run() {
  std::vector<Request> group;
  for (;;) {
    {
      MutexLock lock(mutex_);
      while (!stopping_ && queue_.empty()) {
        if (dedupe_filter_ready_.load()) {
          wake_.wait(mutex_);
        } else if (!wake_.wait_for(mutex_, kIdlePoll) && queue_.empty()) {
          // Idle while the filter is built: take it in now, not at the next group.
          lock.unlock();
          index_.idle();
          dedupe_filter_ready_ = index_.filter_ready();
          lock.lock();
        }
      }
      if (queue_.empty()) break;  // stopping, and everything queued is stored
      if (options_.linger.count() > 0 && queued_events_.load() < options_.linger_below) {
        // A plain sleep, not a wait on wake_: submitters then find no waiter to signal.
        lock.unlock();
        std::this_thread::sleep_for(options_.linger);
        lock.lock();
      }
      if (queue_.front().task) {
        auto task = std::move(queue_.front().task);
        queue_.pop_front();
        lock.unlock();
        task();
        continue;
      }
      std::size_t events = 0;
      while (!queue_.empty() && !queue_.front().task &&
             (group.empty() || events + queue_.front().events.size() <= options_.max_group_events)) {
        // A correction is a group of its own, so that failing it fails nothing else.
        bool correction = queue_.front().kind == Kind::kCorrection;
        if (correction && !group.empty()) break;
        events += queue_.front().events.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (correction) break;
      }
    }
    commit(group);
    group.clear();
  }
  // Stopping: a checkpoint at the very end, so that the next start has nothing to read again.
  next_checkpoint_ = Timestamp{};
  persist_claims(clock_.now());
}

void Ingestor::commit(std::vector<Request>& group) {
  std::size_t total = 0;
  for (const auto& r : group) total += r.events.size();

  // Claim each id in the index as it is seen: a repeat, from an earlier group or this one,
  // fails the claim. Only this thread touches the index, so if the write then fails the claims
  // are withdrawn before anyone could observe them: an id is claimed only with its stored event.
  Timestamp late_limit = clock_.now() - options_.late_window;
  bool correction = group.size() == 1 && group[0].kind == Kind::kCorrection;
  bool retracts = correction && std::any_of(group[0].events.begin(), group[0].events.end(),
                                            [](const Event& e) { return e.is_retraction(); });
  std::vector<Outcomes> outcomes(group.size());
  fresh_.clear();
  fresh_keys_.clear();
  fresh_claims_.clear();
  fresh_.reserve(total);
  fresh_keys_.reserve(total);
  claims_.clear();
  for (std::size_t r = 0; r < group.size(); ++r) {
    outcomes[r].resize(group[r].events.size());
    for (std::size_t i = 0; i < group[r].events.size(); ++i)
      claims_.push_back({&group[r].events[i], r, i, {}});
  }
  if (admission_ != nullptr) {
    group_events_.clear();
    for (const Claim& c : claims_) group_events_.push_back(c.event);
    if (auto prepared = admission_->prepare(group_events_); !prepared) {
      queued_events_ -= total;
      counters_.failed_commits.fetch_add(1);
      counters_.last_failed_commit_ms = to_unix_ms(clock_.now());
      store_.unlock_tenants();
      spdlog::error("preparing {} events for their quota checks failed: {}", total, prepared.error().message);
      for (auto& r : group) r.done(fail(prepared.error()));
      return;
    }
  }
  // The events were written by other threads and the index is far larger than the cache: each
  // event's memory and its index slot are fetched a few events ahead, so the misses overlap.
  constexpr std::size_t kAhead = 8;
  auto fetch_event = [this](std::size_t j) {
    if (j >= claims_.size()) return;
    const Event* e = claims_[j].event;
    for (std::size_t line = 0; line < sizeof(Event); line += 64)
      __builtin_prefetch(reinterpret_cast<const char*>(e) + line);
    __builtin_prefetch(e->id.data());
    __builtin_prefetch(e->tenant_id.data());
  };
  auto hash = [this](std::size_t j) {
    if (j >= claims_.size()) return;
    Claim& c = claims_[j];
    c.key = dedupe_key(c.event->tenant_id, c.event->id);
    index_.prefetch(c.key);
  };
  for (std::size_t j = 0; j < 2 * kAhead; ++j) fetch_event(j);
  // An index on disk looks every key of the group up at once; one in memory, a few ahead.
  bool keyed_first = index_.persistent();
  if (keyed_first) {
    group_keys_.clear();
    for (std::size_t j = 0; j < claims_.size(); ++j) {
      fetch_event(j + 2 * kAhead);
      hash(j);
      if (!claims_[j].event->id_generated) group_keys_.push_back(claims_[j].key);
    }
    index_.lookup(group_keys_);
  } else {
    for (std::size_t j = 0; j < kAhead; ++j) hash(j);
  }
  for (std::size_t j = 0; j < claims_.size(); ++j) {
    if (!keyed_first) {
      fetch_event(j + 2 * kAhead);
      hash(j + kAhead);
    }
    const Claim& c = claims_[j];
    Event& e = *c.event;
    if (keyed_first && e.id_generated) {
      index_.insert_new(c.key, e.received_at);
    } else if (!index_.insert(c.key, e.received_at)) {
      outcomes[c.request][c.index].kind = Outcome::kDuplicate;
      continue;
    }
    // After the dedupe check: a retry of a stored event is a duplicate even once its timestamp
    // has aged past the late window (its first answer may have been lost).
    // A correction's age was decided by whoever made it.
    if (e.timestamp < late_limit && group[c.request].kind == Kind::kUsage) {
      index_.erase(c.key);
      outcomes[c.request][c.index] = {Outcome::kRefused, late_error(e.timestamp, options_.late_window)};
      continue;
    }
    if (admission_ != nullptr) {
      if (auto refused = admission_->admit(e)) {
        index_.erase(c.key);  // refused events are not stored, so their id stays free
        outcomes[c.request][c.index] = {Outcome::kRefused, std::move(refused)};
        continue;
      }
    }
    fresh_keys_.push_back(c.key);
    fresh_claims_.push_back(j);
    fresh_.push_back(std::move(e));
  }

  if (correction) {
    if (auto partial = partial_correction(outcomes[0], retracts)) {
      for (const DedupeKey& key : fresh_keys_) index_.erase(key);
      if (admission_ != nullptr) admission_->rollback();
      queued_events_ -= total;
      counters_.refused.fetch_add(total);
      group[0].done(fail(std::move(*partial)));
      return;
    }
  }

  if (admission_ != nullptr && !fresh_.empty()) {
    if (auto staged = admission_->before_append(); !staged) {
      for (const DedupeKey& key : fresh_keys_) index_.erase(key);
      admission_->rollback();
      queued_events_ -= total;
      counters_.failed_commits.fetch_add(1);
      spdlog::error("preparing {} events for their store failed: {}", total, staged.error().message);
      for (auto& r : group) r.done(fail(staged.error()));
      return;
    }
  }
  auto commit_start = std::chrono::steady_clock::now();
  auto stored = correction ? store_.append_whole(fresh_) : store_.append(fresh_);
  counters_.commit_latency.observe(std::chrono::steady_clock::now() - commit_start);
  queued_events_ -= total;
  if (!stored) {
    for (const DedupeKey& key : fresh_keys_) index_.erase(key);
    if (admission_ != nullptr) admission_->rollback();
    if (store_.take_redo() && !redoing_) {
      // Another writer stored some of these events after their admission looked (a shared
      // log): admitted again, the admission knows them and the append succeeds.
      for (std::size_t f = 0; f < fresh_.size(); ++f) *claims_[fresh_claims_[f]].event = std::move(fresh_[f]);
      queued_events_ += total;  // commit() counts them out again
      redoing_ = true;
      commit(group);
      redoing_ = false;
      return;
    }
    if (stored.error().code == ErrorCode::kInvalidArgument && group.size() > 1) {
      // The data was refused (a usage sum would overflow), not the disk: commit each request
      // alone, so only the one carrying the offending event is told, never its neighbours. The
      // events were moved into fresh_ in claim order: put them back first.
      for (std::size_t f = 0; f < fresh_.size(); ++f) *claims_[fresh_claims_[f]].event = std::move(fresh_[f]);
      for (auto& r : group) {
        std::vector<Request> alone;
        alone.push_back(std::move(r));
        queued_events_ += alone[0].events.size();  // commit() counts them out again
        commit(alone);
      }
      return;
    }
    // The store failed, not the data (a refused sum) nor a correction another writer overlapped.
    if (stored.error().code != ErrorCode::kInvalidArgument && stored.error().code != ErrorCode::kConflict) {
      counters_.failed_commits.fetch_add(1);
      counters_.last_failed_commit_ms = to_unix_ms(clock_.now());
    }
    spdlog::error("storing {} events failed: {}", fresh_.size(), stored.error().message);
    for (auto& r : group) r.done(fail(stored.error()));
    return;
  }
  if (admission_ != nullptr) admission_->settle();
  // Ids another writer sharing the log stored first: duplicates after all.
  for (std::size_t f : *stored) {
    const Claim& c = claims_[fresh_claims_[f]];
    outcomes[c.request][c.index] = {Outcome::kDuplicate, std::nullopt};
    if (admission_ != nullptr) admission_->uncount(fresh_[f]);
  }
  Timestamp now = clock_.now();
  if (now >= next_expiry_) {
    std::size_t dropped = index_.expire(now - options_.dedupe_window);
    if (dropped > 0) spdlog::debug("dedupe index: forgot {} ids older than the window", dropped);
    next_expiry_ = now + std::chrono::hours(1);
  }
  stored_since_checkpoint_ += fresh_.size() - stored->size();
  persist_claims(now);
  dedupe_size_ = index_.size();
  dedupe_filter_ready_ = index_.filter_ready();
  counters_.commits.fetch_add(1);
  counters_.last_commit_ms = to_unix_ms(now);
  counters_.accepted.fetch_add(fresh_.size() - stored->size());
  std::size_t refused = 0;
  for (const auto& o : outcomes)
    refused +=
        std::count_if(o.begin(), o.end(), [](const Outcome& x) { return x.kind == Outcome::kRefused; });
  counters_.refused.fetch_add(refused);
  counters_.duplicates.fetch_add(total - (fresh_.size() - stored->size()) - refused);
  for (std::size_t r = 0; r < group.size(); ++r) group[r].done(std::move(outcomes[r]));
}

void Ingestor::persist_claims(Timestamp now) {
  // A checkpoint (where the events end) at most once per interval: a restart reads the rows
  // stored past the last one again.
  const store::RowCursor* checkpoint = nullptr;
  store::RowCursor rows;
  if (index_.persistent() && now >= next_checkpoint_) {
    next_checkpoint_ = now + kCheckpointInterval;
    if (auto read = next_checkpoint(now)) {
      rows = std::move(*read);
      checkpoint = &rows;
    } else {
      spdlog::warn("dedupe index: no checkpoint this time ({})", read.error().message);
    }
  }
  if (auto s = index_.stored(checkpoint); !s) {
    spdlog::error("{}; the ids stay claimed in memory and the next start reads their events again",
                  s.error().message);
    return;
  }
  if (checkpoint != nullptr) {
    checkpoint_ = std::move(rows);
    stored_since_checkpoint_ = 0;
  }
}

Result<store::RowCursor> Ingestor::next_checkpoint(Timestamp now) {
  auto rows = store_.row_cursor();  // before counting: a row added in between makes the counts differ
  if (!rows) return fail(rows.error());
  auto added = store_.rows_after(checkpoint_);
  if (!added) return fail(added.error());
  if (static_cast<std::uint64_t>(*added) != stored_since_checkpoint_) {
    // Another process wrote into the store (by hand, or a second writer): its ids are read in
    // now, so that the checkpoint never passes an event the index lacks.
    spdlog::warn(
        "{} events were stored since the last dedupe checkpoint, {} of them by this meterd; reading "
        "their ids",
        *added, stored_since_checkpoint_);
    Timestamp received_since = now - options_.dedupe_window;
    auto scanned =
        store_.scan_recent_ids(received_since, received_since - options_.late_window, &checkpoint_,
                               [&](std::string_view tenant, std::string_view id, Timestamp received_at) {
                                 index_.insert(dedupe_key(tenant, id), received_at);
                               });
    if (!scanned) return fail(scanned.error());
  }
  return rows;
}

std::optional<Error> Ingestor::partial_correction(const Outcomes& outcomes, bool retracts) {
  bool stored = false, duplicate = false;
  for (const Outcome& o : outcomes) {
    if (o.kind == Outcome::kRefused) return o.error;
    stored = stored || o.kind == Outcome::kStored;
    duplicate = duplicate || o.kind == Outcome::kDuplicate;
  }
  // A correction that withdraws events is stored whole or found whole (sent again); a part
  // already there is another correction of the same events, or an id in use.
  if (!retracts || !stored || !duplicate) return std::nullopt;
  return Error{ErrorCode::kConflict,
               "part of this correction was stored already (another correction of the same events, or "
               "a new event id in use); nothing of it was stored. GET /v1/tenants/{tenant}/corrections "
               "lists the corrections",
               ""};
}

}  // namespace meter::ingest
