// Statement: RAII owner of one prepared SQLite statement, and StatementUse, a scope that resets
// the statement and clears its bindings when it ends so the next use starts clean.
//
// Thread-safety: a Statement belongs to its connection's owning thread (see ShardStore).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/blake2b.h"

namespace litestash {

class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Prepares `sql` on `db` for repeated use; returns the SQLite result code.
  int Prepare(sqlite3* db, std::string_view sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class StatementUse {
 public:
  explicit StatementUse(const Statement& s) : s_(s.get()) {}
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;
  ~StatementUse() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  StatementUse& Blob(int i, const void* p, size_t n) {
    sqlite3_bind_blob64(s_, i, p ? p : "", n, SQLITE_STATIC);  // never NULL, even when empty
    return *this;
  }
  StatementUse& Text(int i, std::string_view t) {
    // A default string_view has data() == nullptr, which SQLite would bind as NULL.
    sqlite3_bind_text64(s_, i, t.data() ? t.data() : "", t.size(), SQLITE_STATIC, SQLITE_UTF8);
    return *this;
  }
  StatementUse& Int(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  StatementUse& Null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  StatementUse& IntOrNull(int i, std::optional<uint64_t> v) {
    return v ? Int(i, static_cast<int64_t>(*v)) : Null(i);
  }
  StatementUse& BlobOrNull(int i, std::optional<std::string_view> v) {
    return v ? Blob(i, v->data(), v->size()) : Null(i);
  }
  // Binds the smallest string greater than every string starting with `prefix` (bytewise), or
  // NULL when there is none (empty prefix, or all 0xFF bytes): the exclusive end of a prefix
  // range. The string is kept by the statement (SQLITE_TRANSIENT).
  StatementUse& PrefixEnd(int i, std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xFF) end.pop_back();
    if (end.empty()) return Null(i);
    end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
    sqlite3_bind_text64(s_, i, end.data(), end.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }

  int64_t ColumnInt(int c) const { return sqlite3_column_int64(s_, c); }
  bool ColumnIsNull(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string_view ColumnBytes(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, c))};
  }
  // A key hash column (zero-filled past a short value).
  Digest ColumnDigest(int c) const {
    const std::string_view h = ColumnBytes(c);
    Digest d{};
    std::memcpy(d.data(), h.data(), std::min(h.size(), d.size()));
    return d;
  }

 private:
  sqlite3_stmt* s_;
};

}  // namespace litestash
