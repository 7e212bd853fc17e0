// Measures the durability ceiling of a folder's disk: the time of one 4 KiB append followed by
// fdatasync, as the ingest writer pays once per group commit. Prints the median in ms.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : ".";
  int rounds = argc > 2 ? std::stoi(argv[2]) : 300;
  std::string path = dir + "/fsync_probe.tmp";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_TRUNC, 0600);
  if (fd < 0) {
    std::perror("open");
    return 1;
  }
  std::vector<char> block(4096, 'x');
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(ms.begin(), ms.end());
  std::printf("%.3f %.3f\n", ms[ms.size() / 2], ms[ms.size() * 99 / 100]);
  return 0;
}
