// LD_PRELOAD shim for bench/alloc_per_request.sh: counts calls to the malloc family (operator
// new lands there too) and writes the totals to $ALLOC_COUNT_FILE every 50 ms, so that a script
// can read them before and after sending a known number of requests. glibc's own entry points
// (__libc_malloc, ...) do the work: no dlsym, which itself allocates.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* p);
}

namespace {

std::atomic<unsigned long long> allocations{0};
std::atomic<unsigned long long> frees{0};

// Written aside and renamed, so a reader never sees the file empty.
void dump(const char* path) {
  char line[64], temporary[4096];
  int n = std::snprintf(line, sizeof line, "%llu %llu\n", allocations.load(), frees.load());
  std::snprintf(temporary, sizeof temporary, "%s.tmp", path);
  int fd = ::open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  ssize_t written = ::write(fd, line, static_cast<size_t>(n));
  ::close(fd);
  if (written == n) std::rename(temporary, path);
}

struct Reporter {
  Reporter() {
    const char* path = std::getenv("ALLOC_COUNT_FILE");
    if (path == nullptr) return;
    std::thread([path] {
      for (;;) {
        dump(path);
        ::usleep(50'000);
      }
    }).detach();
  }
} reporter;

}  // namespace

extern "C" {

void* malloc(size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }
int posix_memalign(void** out, size_t alignment, size_t size) {
  *out = memalign(alignment, size);
  return *out == nullptr ? 12 /* ENOMEM */ : 0;
}
void free(void* p) {
  if (p != nullptr) frees.fetch_add(1, std::memory_order_relaxed);
  __libc_free(p);
}

}  // extern "C"
