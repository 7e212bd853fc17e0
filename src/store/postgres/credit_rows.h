#pragma once

// What the PostgreSQL credit tables share (credits.cc, credit_rules.cc, pg_store.cc).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "credits/ledger.h"
#include "credits/notice.h"
#include "store/postgres/connection.h"

namespace meter::store::postgres {

// Inserts one ledger transaction with its entries, adding its usage entries to their lines;
// returns its id (0: a transaction with this ref was booked before).
Result<std::int64_t> insert_transaction(Connection& tx, std::string_view tenant, std::string_view kind,
                                        std::int64_t at_ms, std::span<const credits::Entry> entries,
                                        std::optional<std::string> ref = std::nullopt);

// Inserts a lot (with a new seq when `new_seq`); kConflict when the tenant has a lot with its
// idempotency key.
Result<credits::Lot> insert_lot(Connection& tx, credits::Lot lot, bool new_seq);

// The statement inserting one ledger transaction with its entries and adding its usage entries
// to their lines, with its values written in (sent without parameters, with other statements);
// `returning`: it answers the transaction's id (no row: a transaction with this ref was booked).
std::string transaction_sql(std::string_view tenant, std::string_view kind, std::int64_t at_ms,
                            std::span<const credits::Entry> entries, const std::optional<std::string>& ref,
                            bool returning);

// Records a notice as pending delivery; false when its (tenant, type, ref) was recorded before.
Result<bool> insert_notice(Connection& tx, const credits::Notice& notice);

}  // namespace meter::store::postgres
