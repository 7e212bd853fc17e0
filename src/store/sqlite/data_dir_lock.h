#pragma once

#include <filesystem>

#include "core/error.h"

namespace meter::store::sqlite {

// An exclusive hold on a data folder: only one process at a time may write the embedded store,
// or two servers on one folder would each keep their own dedupe index and store the same event
// twice. An flock(2) on DATA_DIR/meterd.lock, which names the holder's pid; the kernel drops it
// when the process ends, kill -9 included, so a stale lock never blocks a restart.
// Movable, not copyable; released by the destructor.
class DataDirLock {
 public:
  // Takes the lock or says who holds it (the pid, and what to do). The folder must exist.
  static Result<DataDirLock> acquire(const std::filesystem::path& data_dir);

  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace meter::store::sqlite
