#include "ingest/credit_admission.h"

namespace meter::ingest {

Status CreditAdmission::prepare(std::span<const Event* const> group) {
  if (inner_ != nullptr) {
    if (auto s = inner_->prepare(group); !s) return s;
  }
  return load_months(group);
}

Status CreditAdmission::load_months(std::span<const Event* const> events) {
  for (const Event* e : events) {
    auto month = book_.month_to_load(*e);
    if (!month) continue;
    auto usage = usage_(e->tenant_id, *month);
    if (!usage) return fail(usage.error());
    auto ledger = ledger_.month_ledger(e->tenant_id, *month);
    if (!ledger) return fail(ledger.error());
    book_.load_month(e->tenant_id, *month, *usage, *ledger);
  }
  return {};
}

std::optional<Error> CreditAdmission::admit(const Event& event) {
  if (inner_ == nullptr) return book_.admit(event);
  return book_.admit(event, [&] { return inner_->admit(event); });
}

Status CreditAdmission::before_append() {
  if (inner_ != nullptr) {
    if (auto s = inner_->before_append(); !s) return s;
  }
  auto journal = book_.journal();
  if (!journal.empty()) ledger_.stage_burns(std::move(journal));
  return {};
}

void CreditAdmission::rollback() {
  book_.rollback();
  if (inner_ != nullptr) inner_->rollback();
}

void CreditAdmission::settle() {
  book_.settle();
  if (inner_ != nullptr) inner_->settle();
}

void CreditAdmission::uncount(const Event& event) {
  if (inner_ != nullptr) inner_->uncount(event);
}

}  // namespace meter::ingest
