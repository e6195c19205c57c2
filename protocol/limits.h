// Limits: the size bounds a running engine enforces on input, set once at start-up from the
// flags and read-only afterwards (safe to share between threads).
#pragma once

#include <cstddef>

namespace litestash {

struct Limits {
  size_t max_frame_bytes = 16u << 20;
  size_t max_key_bytes = 1024;
  size_t max_value_bytes = 8u << 20;
};

}  // namespace litestash
