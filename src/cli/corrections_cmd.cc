// `meterd corrections`: a tenant's cancelled events, newest first, read from the local store
// (the audit trail GET /v1/tenants/{t}/corrections serves; docs/corrections.md).
#include <cstdio>

#include "cli/billing_context.h"
#include "cli/commands.h"
#include "core/identifier.h"

namespace meter::cli {

int run_corrections(const config::LoadedConfig& loaded, const CorrectionsArgs& args) {
  if (auto why = check_identifier(args.tenant)) {
    std::fprintf(stderr, "meterd corrections: --tenant %s\n", why->c_str());
    return 2;
  }
  SystemClock clock;
  auto billing = open_billing(loaded.config, clock, "meterd corrections");
  if (!billing) return 1;
  auto rows = billing->stores->log().retractions(args.tenant, Timestamp{}, clock.now() + std::chrono::days(1),
                                                 args.limit);
  if (!rows) {
    std::fprintf(stderr, "meterd corrections: %s\n", rows.error().message.c_str());
    return 1;
  }
  std::printf("%-24s %-36s %-16s %24s %-24s %s\n", "corrected_at", "cancels", "event_type", "quantity",
              "timestamp", "correction");
  for (const Event& r : *rows) {
    std::printf("%-24s %-36s %-16s %24s %-24s %s\n", format_rfc3339(r.received_at).c_str(), r.cancels.c_str(),
                r.event_type.c_str(), Decimal::from_units(-r.quantity.units()).to_string().c_str(),
                format_rfc3339(r.timestamp).c_str(), r.metadata.c_str());
  }
  std::printf("%zu cancelled event(s) of tenant %s\n", rows->size(), args.tenant.c_str());
  return 0;
}

}  // namespace meter::cli
