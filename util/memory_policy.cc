#include "util/memory_policy.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace maestro {

void SetProcessMemoryPolicy() {
#ifdef __GLIBC__
  // A fixed threshold also turns off glibc's raising of it (and of the trim threshold).
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kOwnMappingBytes));
#endif
}

}  // namespace maestro
