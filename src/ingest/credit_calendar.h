#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/sync.h"
#include "credits/notice.h"
#include "ingest/credit_service.h"

namespace meter::ingest {

// What the passing of time does to prepaid credit (docs/credits.md): each recurring rule's lot
// for every local month from its start to now, the rollover of a month that ended into the
// next (at most the rule's rollover_max, from what the lot still held), and the
// credits.expiring_soon notices 30 and 7 days before a lot with credit left expires. Every step
// is idempotent (keyed by rule and month, or lot and horizon), so a run may repeat, race a
// rule's first run, or follow a crash. A thread runs it every `interval` until stop().
class CreditCalendar {
 public:
  using SendNotices = std::function<void(std::vector<credits::Notice>)>;
  CreditCalendar(CreditService& credits, const Clock& clock, SendNotices send,
                 std::chrono::milliseconds interval = std::chrono::seconds(10))
      : credits_(credits), clock_(clock), send_(std::move(send)), interval_(interval) {}
  ~CreditCalendar() { stop(); }
  CreditCalendar(const CreditCalendar&) = delete;
  CreditCalendar& operator=(const CreditCalendar&) = delete;

  // Everything due by now.
  Status run();
  // One recurring rule's lots and rollovers due by `now` (also right after it is created).
  Status run_rule(const credits::Rule& rule, Timestamp now);

  void start();
  void stop();

 private:
  Status expiry_notices(Timestamp now);
  void loop();

  CreditService& credits_;
  const Clock& clock_;
  SendNotices send_;
  std::chrono::milliseconds interval_;
  Mutex mutex_;
  // Per recurring rule, the last month (YYYYMM) whose lot and rollover are booked, and the month
  // whose lot is booked while it runs.
  std::map<std::string, int> done_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, int> granted_ ABSL_GUARDED_BY(mutex_);
  // The expiry notices (lot and horizon) this run recorded or found recorded.
  std::set<std::string> noticed_ ABSL_GUARDED_BY(mutex_);
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace meter::ingest
