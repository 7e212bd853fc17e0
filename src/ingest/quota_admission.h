#pragma once

#include <vector>

#include "ingest/ingestor.h"
#include "quota/alert.h"
#include "quota/live_counters.h"
#include "quota/quota_book.h"

namespace meter::ingest {

// Admission by quota: counts each admitted event into the live counters of its tenant's day
// and month (in the tenant's zone, by the event's own timestamp) and, for tenants in hard
// mode, refuses an event that would take a counter past its limit, with a 429 that names the
// limit and says when the period resets. Runs only in the ingest writer thread.
class QuotaAdmission final : public Admission {
 public:
  // `alerts` (may be null) receives threshold crossings once their events are on disk.
  QuotaAdmission(const quota::QuotaBook& book, quota::LiveCounters& counters, quota::AlertSink* alerts = nullptr,
                 std::vector<int> thresholds = {80, 100})
      : book_(book), counters_(counters), alerts_(alerts), thresholds_(std::move(thresholds)) {}

  std::optional<Error> admit(const Event& event) override;
  void rollback() override;
  void settle() override;

  // Counts a stored event without any check: for rebuilding the counters at start.
  void recount(std::string_view tenant, std::string_view event_type, Decimal quantity, Timestamp timestamp);

 private:
  const quota::QuotaBook& book_;
  quota::LiveCounters& counters_;
  quota::AlertSink* alerts_;
  std::vector<int> thresholds_;
  std::vector<std::pair<quota::LiveCounters::Key, Decimal>> undo_;  // previous values, in order
  std::vector<quota::Alert> pending_;  // crossings of the group being written
};

}  // namespace meter::ingest
