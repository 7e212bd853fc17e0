// `meterd demo` (and `serve --demo`): a realistic data set in the store, so that a new user
// sees a full dashboard at once. Four tenants with very different usage over the previous and
// the current month (LLM tokens, queries, storage), with quotas in three time zones. Ids are
// fixed ("demo-..."), so loading it twice stores it once (the second run says so).
#include <fmt/format.h>

#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "cli/stores.h"

namespace meter::cli {
namespace {

struct DemoTenant {
  const char* id;
  const char* zone;
  quota::Enforcement enforcement;
  int queries_per_hour;  // at the daily peak
  int tokens_per_query;  // input tokens; output is a fifth
  int storage_gb;        // reported once a day, growing
  std::int64_t queries_per_day_limit;
};

constexpr DemoTenant kTenants[] = {
    {"tenant_acme", "America/New_York", quota::Enforcement::kSoft, 120, 1800, 40, 3000},
    {"tenant_globex", "Asia/Kolkata", quota::Enforcement::kSoft, 60, 600, 12, 1500},
    {"tenant_initech", "Europe/Berlin", quota::Enforcement::kHard, 8, 300, 3, 200},
    {"tenant_umbrella", "UTC", quota::Enforcement::kSoft, 25, 4000, 90, 1000},
};

}  // namespace

Result<std::string> load_demo(Stores& stores, Timestamp now) {
  if (auto known = stores.log_usage().raw_totals("tenant_acme",
                                                 floor_to(Window::kMonth, now) - std::chrono::days(40), now);
      known && !known->empty()) {
    return std::string("demo data already loaded");
  }
  std::mt19937 rng(2026);
  Timestamp start = floor_to(Window::kMonth, floor_to(Window::kMonth, now) - std::chrono::days(1));
  std::int64_t stored = 0;
  for (const DemoTenant& t : kTenants) {
    quota::TenantQuota q;
    q.time_zone = t.zone;
    q.enforcement = t.enforcement;
    q[quota::Meter::kQueries].per_day = Decimal::from_integer(t.queries_per_day_limit);
    q[quota::Meter::kTokens].per_day =
        Decimal::from_integer(t.queries_per_day_limit * t.tokens_per_query * 2);
    auto saved = stores.records().update_settings(t.id, [&](store::TenantSettings& s) -> Status {
      s.quota = q;
      return {};
    });
    if (!saved) return fail(saved.error());
    (void)stores.usage().mirror_quota(t.id, q);  // a copy for dashboards; the shipper may create it later
    std::vector<Event> events;
    int n = 0;
    for (Timestamp hour = start; hour + std::chrono::hours(1) <= now; hour += std::chrono::hours(1)) {
      auto h = std::chrono::duration_cast<std::chrono::hours>(hour.time_since_epoch()).count() % 24;
      // A working-day curve: busier from 08:00 to 20:00 UTC, quieter at night.
      int busy = h >= 8 && h < 20 ? 100 : 25;         // percent of the peak
      int noise = 60 + static_cast<int>(rng() % 80);  // 60..139 percent
      int queries = t.queries_per_hour * busy * noise / 10'000;
      auto add = [&](const char* type, std::int64_t quantity, std::string metadata) {
        Event e;
        e.id = fmt::format("demo-{}-{}", t.id, n++);
        e.tenant_id = t.id;
        e.event_type = type;
        e.quantity = *Decimal::from_integer(quantity);
        e.timestamp = hour + std::chrono::seconds(rng() % 3600);
        e.received_at = e.timestamp;
        e.metadata = std::move(metadata);
        events.push_back(std::move(e));
      };
      const char* model = rng() % 3 == 0 ? "gpt-4" : "gpt-4o-mini";
      std::string meta = fmt::format(R"({{"model":"{}","endpoint":"/rag/query"}})", model);
      add("query", queries, meta);
      add("input_tokens", static_cast<std::int64_t>(queries) * t.tokens_per_query, meta);
      add("output_tokens", static_cast<std::int64_t>(queries) * t.tokens_per_query / 5, meta);
      if (h == 0) {
        auto days = std::chrono::duration_cast<std::chrono::days>(hour - start).count();
        add("storage_gb", t.storage_gb + days * t.storage_gb / 20, "{}");
      }
    }
    if (auto s = stores.log().append(events); !s) return fail(s.error());
    stored += static_cast<std::int64_t>(events.size());
  }
  return fmt::format("demo data loaded: {} events of 4 tenants since {}", stored,
                     format_rfc3339(start).substr(0, 10));
}

int run_demo(const config::LoadedConfig& loaded) {
  SystemClock clock;
  auto stores = open_stores(loaded.config, clock, StoreUse::kCreate);
  if (!stores) return 1;
  auto loaded_demo = load_demo(*stores, clock.now());
  if (!loaded_demo) {
    std::fprintf(stderr, "meterd demo: %s\n", loaded_demo.error().message.c_str());
    return 1;
  }
  std::printf("%s\nstart meterd (or restart it, for the quota settings) and open http://%s/\n",
              loaded_demo->c_str(), loaded.config.listen.c_str());
  return 0;
}

}  // namespace meter::cli
