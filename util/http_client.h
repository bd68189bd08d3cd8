// util/http_client.h — a small HTTP/1.1 client for a server on this machine
// (rclone serve restic on 127.0.0.1, snapshot/rclone_backend.h).
//
// What it speaks: one request at a time per connection, kept alive and pooled
// (up to max_idle connections), request bodies with Content-Length, responses
// with Content-Length, chunked transfer encoding, or read-to-close; HEAD
// responses carry no body. Basic authentication when a user is set. No TLS, no
// redirects, no proxies: it only ever talks to a loopback helper.
//
// Bounded waits: connecting waits at most connect_timeout_ms; every read or
// write waits at most io_timeout_ms of silence (a transfer that keeps moving
// is not cut). A response body over max_body_bytes is refused (IoError), so a
// confused server cannot make this process allocate without limit.
//
// Retries: a request sent on a pooled connection that the server had already
// closed (no byte of the response came back) is sent once more on a fresh
// connection; the body source is read again from offset 0. Callers use it only
// for idempotent requests (every request of the backend protocol is).
//
// Errors: IoError naming host:port, the request and the cause; a response with
// any status is OK at this level (the caller reads resp->status).
//
// Thread safety: Do may be called from several threads at once; each request
// holds its own connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace maestro {

struct HttpClientOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string user;  // basic auth when not empty
  std::string password;
  int64_t connect_timeout_ms = 10000;
  int64_t io_timeout_ms = 120000;
  size_t max_body_bytes = size_t{1} << 30;
  size_t max_idle = 8;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;
  // The value of a header (name in lower case), "" if absent.
  std::string Header(const std::string& lower_name) const;
};

// Reads up to n bytes of a request body at offset into buf; *got = 0 only at
// the end. Must be repeatable (a retry reads from offset 0 again).
using HttpBodyReader = std::function<Status(uint64_t offset, size_t n, char* buf, size_t* got)>;

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions opts);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // target: the request path ("/packs/ab.pack"), already percent-encoded.
  Status Do(const std::string& method, const std::string& target, const HttpHeaders& headers,
            std::string_view body, HttpResponse* resp);
  // The body comes from reader, exactly content_length bytes.
  Status DoWithReader(const std::string& method, const std::string& target, const HttpHeaders& headers,
                      uint64_t content_length, const HttpBodyReader& reader, HttpResponse* resp);

  std::string Endpoint() const;  // "127.0.0.1:PORT"

 private:
  class Conn;
  Status Connect(std::unique_ptr<Conn>* out);
  std::unique_ptr<Conn> TakeIdle();
  void GiveBack(std::unique_ptr<Conn> c);
  Status Exchange(Conn* c, const std::string& head, uint64_t content_length, const HttpBodyReader& reader,
                  bool is_head, HttpResponse* resp, bool* got_any, bool* reusable);

  const HttpClientOptions opts_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
};

// RFC 4648 base64 (for Basic auth).
std::string Base64Encode(std::string_view in);
// Percent-encodes a path segment (keeps A-Z a-z 0-9 - . _ ~).
std::string PercentEncode(std::string_view segment);

}  // namespace maestro
