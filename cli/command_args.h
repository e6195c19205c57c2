// Internal to the command parsers (command.cc, stream_commands.cc): the argument walker and
// small helpers every parser uses. Not part of the cli's interface.
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"
#include "cli/value_text.h"

namespace litestash::cli::command_internal {

inline std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

inline Status Usage(std::string_view what) { return Status::InvalidArgument(std::string(what)); }

inline Result<uint64_t> ParseUint(const Token& t, std::string_view what) {
  uint64_t v;
  auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
  if (t.text.empty() || r.ec != std::errc() || r.ptr != t.text.data() + t.text.size()) {
    return Usage(std::string(what) + " must be a non-negative integer, got '" + t.text + "'");
  }
  return v;
}

// The tokens of one command after its word, with keyword and --flag lookup.
class Args {
 public:
  Args(const std::vector<Token>& tokens, std::string usage)
      : t_(tokens.begin() + 1, tokens.end()), usage_(std::move(usage)) {}

  size_t size() const { return t_.size(); }
  const Token& operator[](size_t i) const { return t_[i]; }
  Status Bad() const { return Usage("usage: " + usage_); }
  bool IsWord(size_t i, std::string_view w) const {
    return i < t_.size() && !t_[i].quoted && Upper(t_[i].text) == w;
  }
  // Removes `KEYWORD n` (or `--flag n`) anywhere after position `from` and stores n.
  Status TakeUint(size_t from, std::initializer_list<std::string_view> names, const char* field,
                  Request* r) {
    for (size_t i = from; i + 1 < t_.size(); ++i) {
      if (t_[i].quoted) continue;
      for (auto name : names) {
        bool flag = name.starts_with("--");
        if ((flag && t_[i].text == name) || (!flag && Upper(t_[i].text) == name)) {
          auto v = ParseUint(t_[i + 1], name);
          if (!v.ok()) return v.status();
          r->Uint(field, *v);
          t_.erase(t_.begin() + i, t_.begin() + i + 2);
          return Status::Ok();
        }
      }
    }
    return Status::Ok();
  }
  Status Done(size_t expected) const { return t_.size() == expected ? Status::Ok() : Bad(); }

 private:
  std::vector<Token> t_;
  std::string usage_;
};

inline Result<std::string> Value(const Token& t) {
  auto v = ParseValue(t.source);
  if (!v.ok()) return Status::InvalidArgument("value " + t.source + ": " + v.status().message());
  return v;
}

inline Result<Command> Simple(std::string word, std::string op, Request r = Request()) {
  Command c;
  c.word = std::move(word);
  r.op = std::move(op);
  c.request = std::move(r);
  return c;
}

#define LS_TRY(expr)                    \
  do {                                  \
    if (Status _s = (expr); !_s.ok()) { \
      return _s;                        \
    }                                   \
  } while (0)

// The stream parsers (stream_commands.cc).
Result<Command> KliteGet(const std::vector<Token>& tokens);
Result<Command> ParseAdd(const std::vector<Token>& tokens);
Result<Command> ParseXget(const std::vector<Token>& tokens);
Result<Command> ParseXrange(const std::vector<Token>& tokens);
Result<Command> ParseStreamOnly(const std::vector<Token>& tokens);
Result<Command> ParseTrim(const std::vector<Token>& tokens);
Result<Command> ParseGroup(const std::vector<Token>& tokens);

}  // namespace litestash::cli::command_internal
