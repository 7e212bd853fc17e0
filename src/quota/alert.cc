#include "quota/alert.h"

namespace meter::quota {

std::vector<int> crossed_thresholds(Decimal before, Decimal after, Decimal limit,
                                    std::span<const int> thresholds) {
  std::vector<int> out;
  if (!(before < after) || limit.is_zero()) return out;
  for (int t : thresholds) {
    // Compare usage × 100 with limit × t, exactly; an overflow (limits beyond 10^24) never fires.
    Int128 mark = 0, b = 0, a = 0;
    if (__builtin_mul_overflow(limit.units(), static_cast<Int128>(t), &mark) ||
        __builtin_mul_overflow(before.units(), static_cast<Int128>(100), &b) ||
        __builtin_mul_overflow(after.units(), static_cast<Int128>(100), &a)) {
      continue;
    }
    if (b < mark && mark <= a) out.push_back(t);
  }
  return out;
}

}  // namespace meter::quota
