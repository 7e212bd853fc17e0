#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"
#include "core/sync.h"

namespace meter::store::postgres {

// A statement parameter as text; nullopt is SQL NULL.
using Param = std::optional<std::string>;

// The rows a statement returned, as text (libpq's text format).
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  bool null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view text(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
  }
  std::string str(int row, int column) const { return std::string(text(row, column)); }
  std::int64_t int64(int row, int column) const;
  // A numeric column as a Decimal; a value out of its range or precision is an error that names
  // `where`.
  Result<Decimal> decimal(int row, int column, std::string_view where) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// One libpq connection. Not thread-safe: one user at a time (ConnectionPool lends them).
// Every failure is an Error: kUnavailable when the server cannot be reached or the transaction
// must be retried (deadlock, serialization failure, read-only after a failover), kConflict on a
// unique violation, kInvalidArgument on a check violation, kInternal otherwise.
class Connection {
 public:
  // Connects with libpq's connection string or URL (multi-host and target_session_attrs work).
  // `timeout` bounds the connect and every statement (statement_timeout).
  static Result<std::unique_ptr<Connection>> open(const std::string& url, std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One or more statements without parameters; the rows of the last one that returns rows
  // (else the last one's empty result).
  Result<Rows> exec(std::string_view sql);
  // One statement with text parameters ($1, $2, ...).
  Result<Rows> query(const std::string& sql, std::span<const Param> params);
  // COPY ... FROM STDIN with `data` in COPY's text format (see copy_field()). `copy_sql` may
  // begin with other statements ("BEGIN; COPY ...").
  Status copy_in(std::string_view copy_sql, std::string_view data);

  // The payloads of notifications (LISTEN) that arrive within `wait`; empty when none did.
  // Fails when the connection broke.
  Result<std::vector<std::string>> notifications(std::chrono::milliseconds wait);

  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Result<Rows> check(PGresult* result, std::string_view what);
  PGconn* conn_;
};

// Appends `value` to a COPY text-format row, escaping what COPY treats specially.
void copy_field(std::string& row, std::string_view value);

// `value` as an SQL string literal (E'...', every quote and backslash doubled), for statements
// sent without parameters, several in one round trip.
std::string sql_literal(std::string_view value);

// A text[] parameter: the values as an array literal, each quoted.
template <class Strings>
std::string text_array(const Strings& values) {
  std::string out = "{";
  for (std::string_view v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Connections opened on demand and kept for reuse; a broken one is dropped on return.
class ConnectionPool {
 public:
  ConnectionPool(std::string url, std::chrono::milliseconds timeout, std::string setup = {})
      : url_(std::move(url)), timeout_(timeout), setup_(std::move(setup)) {}

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    ConnectionPool& pool_;
    std::unique_ptr<Connection> conn_;
  };

  Result<Lease> borrow();

 private:
  std::string url_;
  std::chrono::milliseconds timeout_;
  std::string setup_;
  Mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mutex_);
};

// Runs `body(connection)` inside BEGIN ... COMMIT, rolling back when it fails.
template <class Body>
auto in_transaction(Connection& db, Body&& body) -> decltype(body(db)) {
  if (auto begun = db.exec("BEGIN"); !begun) return fail(begun.error());
  auto result = body(db);
  if (!result) {
    (void)db.exec("ROLLBACK");
    return result;
  }
  if (auto committed = db.exec("COMMIT"); !committed) return fail(committed.error());
  return result;
}

}  // namespace meter::store::postgres
