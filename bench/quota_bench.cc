// In-process quota check latency with 100,000 tenants loaded: the check the ingest writer makes
// per event (settings lookup, counter key in the tenant's zone, counter read, compare) and the
// full /quota/check report (6 statuses). Prints p50, p99 and p99.9 in nanoseconds, timer included.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "ingest/quota_admission.h"
#include "quota/status.h"

using namespace meter;

namespace {

// Times check(tenant) for `rounds` tenants. The name is copied before the clock starts, as a
// request's tenant id is in cache when the check runs (it was just parsed).
template <class F>
void measure(const char* name, int rounds, const std::vector<std::string>& tenants,
             const std::vector<int>& picks, F&& check) {
  std::vector<std::int64_t> ns(rounds);
  for (int i = 0; i < rounds; ++i) {
    std::string tenant = tenants[picks[i]];
    auto start = std::chrono::steady_clock::now();
    check(tenant);
    ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
                .count();
  }
  std::sort(ns.begin(), ns.end());
  std::printf("%-48s p50 %6lld ns   p99 %6lld ns   p99.9 %6lld ns\n", name,
              static_cast<long long>(ns[rounds / 2]), static_cast<long long>(ns[rounds * 99 / 100]),
              static_cast<long long>(ns[rounds * 999 / 1000]));
}

}  // namespace

int main() {
  constexpr int kTenants = 100'000;
  const char* zones[] = {"UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"};
  quota::QuotaBook book(quota::TenantQuota{});
  ingest::QuotaAdmission admission(book);
  Timestamp now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::vector<std::string> tenants;
  for (int i = 0; i < kTenants; ++i) {
    tenants.push_back("tenant_" + std::to_string(i));
    quota::TenantQuota q;
    q.time_zone = zones[i % 4];
    q.enforcement = quota::Enforcement::kHard;
    q[quota::Meter::kQueries].per_day = Decimal::from_integer(1000 + i);
    (void)book.set(tenants.back(), q);
    admission.recount(tenants.back(), "query", *Decimal::from_integer(i % 997), now);
  }
  std::mt19937 rng(42);
  std::vector<int> picks(1'000'000);
  for (int& p : picks) p = static_cast<int>(rng() % kTenants);

  std::printf("%d tenants loaded\n", kTenants);
  volatile bool sink = false;
  measure("check one meter against its daily limit", static_cast<int>(picks.size()), tenants, picks,
          [&](const std::string& t) {
            quota::QuotaBook::Tenant found = book.find(t);
            const quota::QuotaBook::Entry& entry = *found.settings;
            auto key =
                quota::counter_key_view(t, quota::Meter::kQueries, entry.zone, quota::Period::kDay, now);
            sink = book.used(found, key) < *entry.quota[quota::Meter::kQueries].per_day;
          });
  measure("full report (3 meters x day and month)", 200'000, tenants, picks, [&](const std::string& t) {
    auto statuses = quota::quota_status(book, t, now);
    sink = statuses.front().exceeded;
  });
  (void)sink;
  return 0;
}
