#pragma once

#include <chrono>
#include <unordered_map>
#include <vector>

#include "ingest/ingestor.h"
#include "quota/alert.h"
#include "quota/quota_book.h"

namespace meter::ingest {

// Admission by quota: counts each admitted event into the live counters of its tenant's day
// and month (in the tenant's zone, by the event's own timestamp) and, for tenants in hard
// mode, refuses an event that would take a counter past its limit, with a 429 that names the
// limit and says when the period resets. Runs only in the ingest writer thread.
// Hard-mode events are counted one by one as they are admitted (the next one must see them);
// soft-mode events, which are never refused, are summed per counter over the group and added
// once the group is on disk, which keeps large batches cheap.
class QuotaAdmission final : public Admission {
 public:
  // `alerts` (may be null) receives threshold crossings once their events are on disk.
  QuotaAdmission(quota::QuotaBook& book, quota::AlertSink* alerts = nullptr,
                 std::vector<int> thresholds = {80, 100})
      : book_(book), alerts_(alerts), thresholds_(std::move(thresholds)) {}

  // With a log several writers share: before each group, the hard-mode tenants it touches are
  // locked in the log and their counters set to what every writer stored (a sum, or a gauge's
  // largest reading), so writers racing at a hard limit never pass it together. Soft-mode
  // tenants' counters are set the same way at most every kSoftRefresh, without a lock, so that
  // threshold alerts follow what every writer stored.
  void share_counters(store::EventLog* log) { shared_ = log; }
  Status prepare(std::span<const Event* const> group) override;

  std::optional<Error> admit(const Event& event) override;
  void rollback() override;
  void settle() override;
  // Summed meters go down by the event's quantity; a gauge keeps its maximum (another writer
  // stored the same reading, so that level was reached).
  void uncount(const Event& event) override;

  // Counts a stored event without any check: for rebuilding the counters at start.
  void recount(std::string_view tenant, std::string_view event_type, Decimal quantity, Timestamp timestamp);

 private:
  quota::QuotaBook& book_;
  quota::AlertSink* alerts_;
  store::EventLog* shared_ = nullptr;
  std::vector<int> thresholds_;
  void add_counted(const quota::CounterKey& key, Decimal quantity, const quota::MeterLimits& limits,
                   Timestamp at, bool undoable);
  const quota::QuotaBook::Tenant& tenant_for(std::string_view tenant);

  std::vector<std::pair<quota::CounterKey, Decimal>> undo_;  // previous values, in order
  std::vector<quota::Alert> pending_alerts_;                 // crossings of the group
  struct SoftSum {
    quota::CounterKey key;
    Decimal quantity;
    quota::MeterLimits limits;
    Timestamp at;
  };
  std::vector<SoftSum> soft_;  // soft-mode sums of the group, applied by settle()
  static constexpr std::chrono::seconds kSoftRefresh{1};
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> soft_refreshed_;  // by tenant
  std::string last_tenant_;  // the last tenant looked up, and its settings and usage
  quota::QuotaBook::Tenant last_found_;
};

}  // namespace meter::ingest
