// Strict UTF-8 validation (RFC 3629): rejects overlong forms, UTF-16 surrogates (U+D800..DFFF),
// code points above U+10FFFF and truncated sequences. Pure function, thread-safe.
#pragma once

#include <string_view>

namespace litestash {

bool IsValidUtf8(std::string_view s);

}  // namespace litestash
