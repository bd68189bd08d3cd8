// util/memory_policy.h — the process's allocator settings, set once by main()
// before any thread starts (issue 14 point 2: peak memory is a goal).
//
// Large buffers (at least kOwnMappingBytes: the blob buffers of
// snapshot/blob_buffers.h, read buffers, compression output) get a mapping of
// their own, so freeing one gives its pages back at once. glibc's default
// raises that threshold after the first large free and then carves large
// buffers from its per-thread arenas, where the holes they leave between small
// allocations stayed resident: a first `snap create` of 300,000 files and
// 1 GiB peaked at 53-61 MiB with the default, 47-49 MiB with this, for the
// same heap. Create reuses its blob buffers, so the mappings are made rarely.
// glibc only; elsewhere a no-op.
#pragma once

#include <cstddef>

namespace maestro {

constexpr size_t kOwnMappingBytes = 256 * 1024;
void SetProcessMemoryPolicy();

}  // namespace maestro
