#pragma once

// Row helpers shared by the SQLite credit tables (credits.cc, credit_rules.cc).
#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "credits/notice.h"

namespace meter::store::sqlite {

std::optional<Timestamp> optional_time(const SQLite::Column& c);
// Records a notice as pending delivery; false when its (tenant, type, ref) was recorded before.
bool insert_notice(SQLite::Database& db, const credits::Notice& notice);

}  // namespace meter::store::sqlite
