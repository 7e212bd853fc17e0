#include "store/postgres/connection.h"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace meter::store::postgres {
namespace {

// What a failed statement means to the caller, from its SQLSTATE.
ErrorCode code_of(std::string_view state) {
  if (state == "23505") return ErrorCode::kConflict;
  if (state == "23514") return ErrorCode::kInvalidArgument;
  // Connection exceptions, serialization failures and deadlocks, an operator or failover
  // stopping the server, a read-only standby, statement timeouts, resources: retry later.
  if (state.starts_with("08") || state.starts_with("40") || state.starts_with("57") ||
      state.starts_with("53") || state == "25006") {
    return ErrorCode::kUnavailable;
  }
  return ErrorCode::kInternal;
}

// libpq's message on one line ("...failed: Connection refused\n\tIs the server running...").
std::string trimmed(const char* message) {
  std::string m;
  for (const char* c = message != nullptr ? message : ""; *c != '\0'; ++c) {
    if (*c == '\t') continue;
    m += *c == '\n' ? ' ' : *c;
  }
  while (!m.empty() && m.back() == ' ') m.pop_back();
  return m;
}

}  // namespace

std::int64_t Rows::int64(int row, int column) const {
  std::string_view t = text(row, column);
  std::int64_t value = 0;
  std::from_chars(t.data(), t.data() + t.size(), value);
  return value;
}

Result<Decimal> Rows::decimal(int row, int column, std::string_view where) const {
  std::string_view t = text(row, column);
  auto d = Decimal::parse(t);
  if (!d) {
    return fail(
        Error::invalid("quantity", fmt::format("{} {} is outside the decimal range meterd computes with "
                                               "(about ±1.7e26, 12 decimal places)",
                                               where, t)));
  }
  return *d;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url,
                                                     std::chrono::milliseconds timeout) {
  // Keywords after the URL override its own; libpq takes both forms through expand_dbname.
  std::string connect_timeout = std::to_string(std::max<std::int64_t>(1, (timeout.count() + 999) / 1000));
  std::string options =
      fmt::format("-c statement_timeout={} -c lock_timeout={}", timeout.count(), timeout.count());
  const char* keys[] = {"dbname",           "connect_timeout", "options",
                        "application_name", "keepalives_idle", nullptr};
  const char* values[] = {url.c_str(), connect_timeout.c_str(), options.c_str(), "meterd", "10", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (conn == nullptr) return fail(Error::unavailable("postgresql: out of memory opening a connection"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return fail(Error::unavailable("postgresql unreachable: " + message));
  }
  // Notices ("already exists, skipping", shutdown warnings) go to the debug log, not stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char* message) { spdlog::debug("postgresql: {}", trimmed(message)); }, nullptr);
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { PQfinish(conn_); }

Result<std::vector<std::string>> Connection::notifications(std::chrono::milliseconds wait) {
  std::vector<std::string> payloads;
  auto collect = [&] {
    while (PGnotify* n = PQnotifies(conn_)) {
      payloads.emplace_back(n->extra);
      PQfreemem(n);
    }
  };
  collect();  // some may have come with an earlier statement's answer
  if (!payloads.empty()) return payloads;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (fd.fd < 0) return fail(Error::unavailable("postgresql: the listening connection is closed"));
  if (::poll(&fd, 1, static_cast<int>(wait.count())) > 0 && PQconsumeInput(conn_) == 0) {
    return fail(
        Error::unavailable("postgresql: the listening connection broke: " + trimmed(PQerrorMessage(conn_))));
  }
  collect();
  return payloads;
}

Result<Rows> Connection::check(PGresult* result, std::string_view what) {
  ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN) return Rows(result);
  std::string state = result != nullptr ? trimmed(PQresultErrorField(result, PG_DIAG_SQLSTATE)) : "";
  std::string message = trimmed(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = trimmed(PQerrorMessage(conn_));
  if (result != nullptr) PQclear(result);
  ErrorCode code = state.empty() ? ErrorCode::kUnavailable : code_of(state);  // no state: the link failed
  if (broken()) code = ErrorCode::kUnavailable;
  return fail(Error{code, fmt::format("postgresql {} failed: {}", what, message), {}});
}

Result<Rows> Connection::exec(std::string_view sql) {
  if (PQsendQuery(conn_, std::string(sql).c_str()) == 0) return check(nullptr, "statement");
  // Several statements answer with one result each: keep the first failure, else the last
  // rows (of the last statement that returns rows, so that a COMMIT may follow a query).
  std::optional<Rows> last;
  std::optional<Error> error;
  while (PGresult* r = PQgetResult(conn_)) {
    if (error) {
      PQclear(r);
      continue;
    }
    bool tuples = PQresultStatus(r) == PGRES_TUPLES_OK;
    auto checked = check(r, "statement");
    if (!checked)
      error = checked.error();
    else if (tuples || !last || last->columns() == 0)
      last = std::move(*checked);
  }
  if (error) return fail(*error);
  if (!last) return check(nullptr, "statement");
  return std::move(*last);
}

std::string sql_literal(std::string_view value) {
  std::string out = "E'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

Result<Rows> Connection::query(const std::string& sql, std::span<const Param> params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                             nullptr, nullptr, 0);
  return check(r, "query");
}

Status Connection::copy_in(std::string_view copy_sql, std::string_view data) {
  auto started = check(PQexec(conn_, std::string(copy_sql).c_str()), "COPY");
  if (!started) return fail(started.error());
  if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(conn_, nullptr) != 1) {
    return fail(Error::unavailable("postgresql COPY failed: " + trimmed(PQerrorMessage(conn_))));
  }
  std::optional<Error> error;
  while (PGresult* r = PQgetResult(conn_)) {
    auto checked = check(r, "COPY");
    if (!checked && !error) error = checked.error();
  }
  if (error) return fail(*error);
  return {};
}

void copy_field(std::string& row, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        row += "\\\\";
        break;
      case '\t':
        row += "\\t";
        break;
      case '\n':
        row += "\\n";
        break;
      case '\r':
        row += "\\r";
        break;
      default:
        row += c;
    }
  }
}

ConnectionPool::Lease::~Lease() {
  if (!conn_ || conn_->broken()) return;
  MutexLock lock(pool_.mutex_);
  pool_.idle_.push_back(std::move(conn_));
}

Result<ConnectionPool::Lease> ConnectionPool::borrow() {
  {
    MutexLock lock(mutex_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
  }
  auto conn = Connection::open(url_, timeout_);
  if (!conn) return fail(conn.error());
  if (!setup_.empty()) {
    if (auto s = (*conn)->exec(setup_); !s) return fail(s.error());
  }
  return Lease(*this, std::move(*conn));
}

}  // namespace meter::store::postgres
