// A small multi-tenant "RAG API" (the Python service's example), metered with meter::Tracker: each
// request costs one query plus its input and output tokens, tracked without waiting for
// meterd. Run meterd, then this, then:
//   curl -H 'X-Tenant: tenant_acme' 'http://127.0.0.1:8080/ask?q=what+is+metering'
// Usage: rag_api [LISTEN_PORT] [METERD_URL]
// clang-format off
#include <utility>  // before Boost 1.74, whose awaitable.hpp uses std::exchange without it
// clang-format on

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <cstdio>
#include <string>

#include "meter/tracker.h"

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// Stands in for retrieval + an LLM call: the answer and its token counts.
struct Answer {
  std::string text;
  int input_tokens;
  int output_tokens;
};

Answer answer(const std::string& question) {
  int input = 800 + static_cast<int>(question.size()) * 4;  // the question plus retrieved context
  return {"Metering records each billable event with its tenant.", input, 12};
}

http::response<http::string_body> handle(const http::request<http::string_body>& req,
                                         meter::Tracker& tracker) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  std::string tenant(req["X-Tenant"]);
  if (tenant.empty()) {
    res.result(http::status::bad_request);
    res.body() = R"({"error":"send the tenant in X-Tenant"})";
    res.prepare_payload();
    return res;
  }
  std::string target(req.target());
  std::string question = target.find("q=") == std::string::npos ? "" : target.substr(target.find("q=") + 2);
  Answer a = answer(question);
  // Three events per request; track() only queues them.
  std::string meta = R"({"endpoint":"/ask","model":"gpt-4o-mini"})";
  tracker.track({tenant, "query", "1", "", meta, 0});
  tracker.track({tenant, "input_tokens", std::to_string(a.input_tokens), "", meta, 0});
  tracker.track({tenant, "output_tokens", std::to_string(a.output_tokens), "", meta, 0});
  res.body() = R"({"answer":")" + a.text + R"("})";
  res.prepare_payload();
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = static_cast<unsigned short>(argc > 1 ? std::stoi(argv[1]) : 8080);
  meter::TrackerOptions options;
  options.url = argc > 2 ? argv[2] : "http://127.0.0.1:8000";
  options.spill_path = "rag_api-spill.jsonl";
  meter::Tracker tracker(options);

  boost::asio::io_context io;
  tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), port});
  std::printf("rag_api on http://127.0.0.1:%u, metering into %s\n", acceptor.local_endpoint().port(),
              options.url.c_str());
  std::fflush(stdout);
  for (;;) {
    tcp::socket socket(io);
    acceptor.accept(socket);
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {  // keep-alive: one connection at a time is enough for an example
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) break;
      auto res = handle(req, tracker);
      res.keep_alive(req.keep_alive());
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) break;
      if (req.target() == "/flush") tracker.flush();
    }
  }
}
