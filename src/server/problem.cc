#include "server/problem.h"

#include "server/json.h"

namespace meter::server {

std::string_view status_title(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

HttpResponse problem(int status, std::string_view title, std::string_view detail, std::string_view field) {
  JsonOut out;
  out.begin_object();
  out.key("type").str("about:blank");
  out.key("title").str(title);
  out.key("status").num(status);
  out.key("detail").str(detail);
  if (!field.empty()) out.key("field").str(field);
  out.end_object();
  HttpResponse r = out.response(status);
  r.content_type = "application/problem+json";
  return r;
}

HttpResponse problem(const Error& error) {
  int status = 500;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      status = 400;
      break;
    case ErrorCode::kUnauthenticated:
      status = 401;
      break;
    case ErrorCode::kForbidden:
      status = 403;
      break;
    case ErrorCode::kPaymentRequired:
      status = 402;
      break;
    case ErrorCode::kNotFound:
      status = 404;
      break;
    case ErrorCode::kConflict:
      status = 409;
      break;
    case ErrorCode::kTooLarge:
      status = 413;
      break;
    case ErrorCode::kRateLimited:
      status = 429;
      break;
    case ErrorCode::kUnavailable:
      status = 503;
      break;
    case ErrorCode::kInternal:
      status = 500;
      break;
    case ErrorCode::kUnimplemented:
      status = 501;
      break;
  }
  HttpResponse r = problem(status, status_title(status), error.message, error.field);
  if (error.retry_after_seconds > 0) {
    r.headers.emplace_back("Retry-After", std::to_string(error.retry_after_seconds));
  } else if (status == 503) {
    r.headers.emplace_back("Retry-After", "1");
  }
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace meter::server
