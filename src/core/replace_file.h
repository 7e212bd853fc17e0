#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>

#include "core/error.h"

namespace meter {

// Writes `path` whole or not at all: `write` fills a temporary file beside it through its
// descriptor (returning false, with errno set, when it cannot), which is then fsynced and renamed
// over `path`, and the folder synced so that the rename survives a crash.
Status replace_file(const std::filesystem::path& path, const std::function<bool(int fd)>& write);

// write(2) until all `size` bytes are written; false, with errno set, when one fails.
bool write_all(int fd, const void* data, std::size_t size);

}  // namespace meter
