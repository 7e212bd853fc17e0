#include "store/sqlite/data_dir_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace meter::store::sqlite {

Result<DataDirLock> DataDirLock::acquire(const std::filesystem::path& data_dir) {
  auto path = data_dir / "meterd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail(Error::unavailable(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno))));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return fail(Error::unavailable(fmt::format("cannot lock {}: {}", path.string(), std::strerror(err))));
    }
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return fail(
        Error{ErrorCode::kConflict,
              fmt::format("{} is in use by another meterd (process {}): one process at a time may write a "
                          "data folder. Stop it first, or point this one at another folder with --data-dir "
                          "or METERD_DATA_DIR",
                          data_dir.string(), holder.empty() ? "unknown" : holder),
              "data_dir"});
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return DataDirLock(fd);
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace meter::store::sqlite
