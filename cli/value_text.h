// Values as people type and read them: text <-> the exact MessagePack bytes the engine stores.
//
// ParseValue() turns one typed value into MessagePack:
//   - JSON: strings, numbers, objects, arrays, true/false/null. An integer becomes the shortest
//     MessagePack int; a number with a fraction or exponent (or an integer beyond 64 bits)
//     becomes float64.
//   - explicit forms for what JSON cannot say: `bin:HEX`, `b64:BASE64` (bin), `f32:1.5` or
//     `f32:[0.1, 0.5]` (float32, or an array of float32), `f64:1.5`, `ext:TYPE:HEX`,
//     `str:TEXT` (the text as a str, whatever it looks like), `mp:HEX` (raw MessagePack, taken
//     as it is once checked to be exactly one object).
//   - with `bare_words` (the REPL, one-shot commands), anything else that is not valid JSON is
//     taken as a str: `SET k hello` stores "hello". A text that starts like a container or an
//     explicit form and is broken is an error, never silently a str.
//
// FormatValue() prints MessagePack bytes:
//   - kDisplay (the REPL): JSON where JSON is exact, the exact type in front where it is not:
//     `(bin) 0a0b`, `(float32) 1.5`, `(ext 5) 0102`; a float64 always shows a fraction (`2.0`).
//   - kJson (one-shot output, jsonl export): strict JSON. float32 prints as a number; bin as
//     {"$bin": "HEX"}, ext as {"$ext": [TYPE, "HEX"]}, a non-finite float as {"$float": "nan"};
//     a non-str map key as its JSON text. IsExactJson() says whether parsing that JSON back
//     gives the same bytes (jsonl export adds the raw bytes when it does not).
// Malformed MessagePack prints as `(malformed) HEX`. Nothing here throws.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace litestash::cli {

Result<std::string> ParseValue(std::string_view text, bool bare_words = true);

// Strict JSON only (no explicit forms, no bare words; parsed by nlohmann-json, so strings must
// be UTF-8) to MessagePack. Object keys keep their order; nesting is capped at 512 levels.
Result<std::string> JsonToMsgpack(std::string_view json);

enum class ValueStyle { kDisplay, kJson };
std::string FormatValue(std::string_view msgpack, ValueStyle style);

// True when JsonToMsgpack(FormatValue(msgpack, kJson)) == msgpack.
bool IsExactJson(std::string_view msgpack);

// A str as a JSON string literal, quotes included (written by nlohmann-json; a str that is not
// UTF-8 has its bytes above 0x7f as \u00XX).
std::string JsonQuote(std::string_view s);

std::string HexEncode(std::string_view bytes);
Result<std::string> HexDecode(std::string_view hex);
// Base64 (standard or URL-safe alphabet, padding optional) by OpenSSL.
Result<std::string> Base64Decode(std::string_view b64);

}  // namespace litestash::cli
