// How answers are printed: for people (the REPL: redis-cli-like lines, values with their exact
// type) or for scripts (one JSON object per answer).
//
// FormatAnswer(word, answer, kDisplay) knows the shape of each command's answer ("set" prints
// `OK (version N)`, "get" the value or `(nil)`, "xrange" one `id: value` line per entry, ...);
// unknown words print every field as `name: value`. kJson prints the answer's fields (id and
// ok left out) as one JSON object, values in FormatValue's kJson style. Error answers print as
// `(error) code: message` (kDisplay) or {"error": {"code": ..., "message": ...}} (kJson); a
// conflict adds the key's current version.
#pragma once

#include <string>
#include <string_view>

#include "cli/request.h"
#include "cli/value_text.h"

namespace litestash::cli {

// `request` is the request answered (xget prints its ids beside the values).
std::string FormatAnswer(std::string_view word, const Answer& answer, ValueStyle style,
                         const Request& request = Request());
std::string FormatError(const Answer& answer, ValueStyle style);

// One stream entry ([id, ts, value] bytes) as `id: value`.
std::string FormatEntry(std::string_view entry, ValueStyle style);

// The stats answer as an aligned table (one row per shard, then totals and counters).
std::string FormatStatsTable(const Answer& answer);

}  // namespace litestash::cli
