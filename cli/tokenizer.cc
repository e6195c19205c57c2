// Tokenize() and TokensFromArgs(): see command.h.
#include <algorithm>

#include "cli/command.h"
#include "cli/value_text.h"

namespace litestash::cli {
namespace {

Status Usage(std::string_view what) { return Status::InvalidArgument(std::string(what)); }

}  // namespace

std::vector<Token> TokensFromArgs(const std::vector<std::string>& args) {
  std::vector<Token> out;
  for (const auto& a : args) out.push_back(Token{a, a, false});
  return out;
}

Result<std::vector<Token>> Tokenize(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
      continue;
    }
    size_t start = i;
    Token t;
    if (line[i] == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return Usage("unterminated ' quote");
      t.text = std::string(line.substr(i + 1, end - i - 1));
      t.source = JsonQuote(t.text);
      t.quoted = true;
      out.push_back(std::move(t));
      i = end + 1;
      continue;
    }
    // A word, a JSON string or a bracketed JSON value; strings inside brackets are skipped
    // whole so their blanks and brackets do not count.
    int depth = 0;
    bool in_str = false;
    while (i < line.size()) {
      char c = line[i];
      if (in_str) {
        if (c == '\\')
          ++i;
        else if (c == '"')
          in_str = false;
      } else if (c == '"') {
        in_str = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        --depth;
      } else if ((c == ' ' || c == '\t') && depth <= 0) {
        break;
      }
      ++i;
    }
    if (in_str) return Usage("unterminated \" quote");
    t.source = std::string(line.substr(start, std::min(i, line.size()) - start));
    t.text = t.source;
    if (t.source.size() >= 2 && t.source.front() == '"' && t.source.back() == '"') {
      auto packed = JsonToMsgpack(t.source);
      auto s = packed.ok() ? StrOf(*packed) : std::nullopt;
      if (!s) return Usage("bad string " + t.source);
      t.text = *s;
      t.quoted = true;
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace litestash::cli
