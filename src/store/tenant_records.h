#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "quota/alert.h"
#include "quota/limits.h"

namespace meter::store {

// A tenant's settings, kept in one record: its plan, and its quota settings, which also name its
// billing time zone (where its days and months begin, for quotas and invoices alike). A tenant
// without a record, or a field left empty, gets the defaults.
struct TenantSettings {
  std::optional<std::string> plan;          // nullopt: the default plan
  std::optional<quota::TenantQuota> quota;  // nullopt: DEFAULT_QUOTA_*, soft, UTC
};

// Changes a tenant's settings in place; an error leaves them as they were.
using SettingsChange = std::function<Status(TenantSettings&)>;

// A quota alert as stored, with how its webhook delivery went.
struct AlertRecord {
  std::int64_t id = 0;
  quota::Alert alert;
  std::string delivery;  // "pending", "delivered", "failed", "no webhook"
  int attempts = 0;
};

// An invoice as finalized: the exact bytes every later read returns.
struct FinalizedInvoice {
  std::string tenant_id;
  int month = 0;  // YYYYMM
  std::string json;
  std::string csv;
  Timestamp finalized_at;
};

// An adjustment note (docs/corrections.md): what changed in a finalized month after its invoice
// (and the notes before it) was issued, as a document of its own; the invoice never changes.
struct AdjustmentNote {
  std::string tenant_id;
  int month = 0;     // YYYYMM of the invoice it adjusts
  int sequence = 0;  // 1, 2, ... per tenant and month
  std::string number;
  std::string json;
  std::string csv;
  Timestamp issued_at;
  std::string total_change;  // decimal text: what the note adds to the amount due
  int carried_to = 0;        // YYYYMM of the invoice that carries it as a line; 0 = none
};

// What meterd keeps about each tenant besides its events: settings, finalized invoices and
// quota alerts. Implementations: sqlite/ (the embedded store's file). Thread-safe.
class TenantRecords {
 public:
  virtual ~TenantRecords() = default;

  // Reads the tenant's settings (empty when it has none), applies `change` and stores the result,
  // all in one transaction, so that two changes to different fields never undo each other.
  // Returns the settings stored; when `change` fails, nothing is stored and its error returned.
  virtual Result<TenantSettings> update_settings(std::string_view tenant_id,
                                                 const SettingsChange& change) = 0;
  virtual Result<std::optional<TenantSettings>> settings(std::string_view tenant_id) = 0;
  // Every tenant that has settings, sorted by tenant.
  virtual Result<std::vector<std::pair<std::string, TenantSettings>>> list_settings() = 0;

  // The tenant's plan; nullopt: the default plan.
  Result<std::optional<std::string>> plan(std::string_view tenant_id) {
    auto s = settings(tenant_id);
    if (!s) return fail(s.error());
    return *s ? (*s)->plan : std::nullopt;
  }

  // Finalized invoices: an immutable snapshot per tenant and month (YYYYMM), in both formats.
  // put fails with kConflict when the month is already finalized.
  virtual Status put_finalized_invoice(const FinalizedInvoice& invoice) = 0;
  virtual Result<std::optional<FinalizedInvoice>> finalized_invoice(std::string_view tenant_id,
                                                                    int month) = 0;
  virtual Result<std::vector<FinalizedInvoice>> finalized_invoices(int month) = 0;

  // Adjustment notes. put fails with kConflict when the tenant-month has that sequence already
  // (another node or thread issued it first). A store without them has none.
  virtual Status put_adjustment(const AdjustmentNote& /*note*/) {
    return fail(Error::unimplemented("adjustment notes are not supported on this store yet"));
  }
  // The tenant-month's notes, by sequence.
  virtual Result<std::vector<AdjustmentNote>> adjustments(std::string_view /*tenant_id*/, int /*month*/) {
    return std::vector<AdjustmentNote>{};
  }
  // The tenant's notes carried as lines on its invoice of `month`, by month and sequence.
  virtual Result<std::vector<AdjustmentNote>> adjustments_carried_to(std::string_view /*tenant_id*/,
                                                                     int /*month*/) {
    return std::vector<AdjustmentNote>{};
  }

  // Quota alerts. record_alert returns the new id, or nullopt when this tenant, meter, period and
  // threshold already fired (alerts fire once, also across restarts).
  virtual Result<std::optional<std::int64_t>> record_alert(const quota::Alert& alert) = 0;
  virtual Status update_alert_delivery(std::int64_t id, std::string_view delivery, int attempts) = 0;
  // Newest first; all tenants when tenant_id is empty; with pending_only, only those whose
  // webhook delivery has not ended (to resume after a restart).
  virtual Result<std::vector<AlertRecord>> list_alerts(std::string_view tenant_id, std::size_t limit,
                                                       bool pending_only) = 0;
};

}  // namespace meter::store
