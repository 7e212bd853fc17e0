#pragma once

struct sqlite3;

namespace meter::store::sqlite {

// Registers meter_dec_add(a, b) and the aggregate meter_dec_sum(x) on a connection: exact
// decimal arithmetic on the TEXT quantities, since SQLite itself has only int64 and double.
// A malformed operand or an overflow raises an SQL error instead of producing a wrong number.
void register_decimal_functions(sqlite3* db);

}  // namespace meter::store::sqlite
