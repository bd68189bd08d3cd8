// util/http_client.cc — HTTP/1.1 over a loopback TCP socket (see the header).
#include "util/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/env.h"

namespace maestro {

namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kSendPiece = 256 * 1024;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t");
  size_t b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

bool ParseU64(const std::string& s, int base, uint64_t* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long x = ::strtoull(s.c_str(), &end, base);
  if (errno != 0 || end == s.c_str()) return false;
  *v = x;
  return true;
}

}  // namespace

std::string Base64Encode(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

std::string PercentEncode(std::string_view segment) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char ch : segment) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string HttpResponse::Header(const std::string& lower_name) const {
  for (const auto& h : headers) {
    if (h.first == lower_name) return h.second;
  }
  return "";
}

// One TCP connection with a read buffer; every wait bounded by io_timeout_ms.
class HttpClient::Conn {
 public:
  Conn(int fd, int64_t timeout_ms, std::string where) : fd_(fd), timeout_ms_(timeout_ms), where_(std::move(where)) {}
  ~Conn() { ::close(fd_); }

  // True if the server closed it (or sent something unasked) while idle.
  bool Stale() const {
    if (!buf_.empty()) return true;
    struct pollfd p = {fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

  Status WaitFor(short events) {
    struct pollfd p = {fd_, events, 0};
    for (;;) {
      int r = ::poll(&p, 1, static_cast<int>(timeout_ms_));
      if (r > 0) return Status::OK();
      if (r == 0) return Status::IoError(where_ + ": no progress for " + std::to_string(timeout_ms_ / 1000) + " s");
      if (errno != EINTR) return PosixError(where_ + ": poll", errno);
    }
  }

  Status Send(std::string_view data) {
    while (!data.empty()) {
      MAESTRO_RETURN_IF_ERROR(WaitFor(POLLOUT));
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) return PosixError(where_ + ": send", errno);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }

  // Appends what arrives to buf_; *eof when the peer closed.
  Status Fill(bool* eof) {
    *eof = false;
    MAESTRO_RETURN_IF_ERROR(WaitFor(POLLIN));
    char tmp[64 * 1024];
    for (;;) {
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        MAESTRO_RETURN_IF_ERROR(WaitFor(POLLIN));
        continue;
      }
      if (n < 0) return PosixError(where_ + ": recv", errno);
      if (n == 0) *eof = true;
      buf_.append(tmp, static_cast<size_t>(n));
      return Status::OK();
    }
  }

  Status ReadLine(std::string* line, bool* got_any) {
    size_t pos;
    while ((pos = buf_.find("\r\n")) == std::string::npos) {
      if (buf_.size() > kMaxHeadBytes) return Status::IoError(where_ + ": response line too long");
      bool eof;
      MAESTRO_RETURN_IF_ERROR(Fill(&eof));
      if (!buf_.empty()) *got_any = true;
      if (eof) return Status::IoError(where_ + ": the server closed the connection mid-response");
    }
    *line = buf_.substr(0, pos);
    buf_.erase(0, pos + 2);
    return Status::OK();
  }

  // Reads n body bytes straight into *out (no second copy of a large body).
  Status ReadExactly(uint64_t n, std::string* out) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
    out->append(buf_, 0, take);
    buf_.erase(0, take);
    size_t start = out->size();
    size_t want = static_cast<size_t>(n - take);
    out->resize(start + want);
    size_t got = 0;
    while (got < want) {
      MAESTRO_RETURN_IF_ERROR(WaitFor(POLLIN));
      ssize_t r = ::recv(fd_, out->data() + start + got, want - got, 0);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r < 0) return PosixError(where_ + ": recv", errno);
      if (r == 0) {
        out->resize(start + got);
        return Status::IoError(where_ + ": the server closed the connection after " + std::to_string(take + got) +
                               " of " + std::to_string(n) + " body bytes");
      }
      got += static_cast<size_t>(r);
    }
    return Status::OK();
  }

  Status ReadToClose(size_t limit, std::string* out) {
    bool eof = false;
    while (!eof) {
      if (buf_.size() > limit) return Status::IoError(where_ + ": response body over the limit");
      MAESTRO_RETURN_IF_ERROR(Fill(&eof));
    }
    out->append(buf_);
    buf_.clear();
    return Status::OK();
  }

  const std::string& where() const { return where_; }

 private:
  int fd_;
  int64_t timeout_ms_;
  std::string where_;
  std::string buf_;
};

HttpClient::HttpClient(HttpClientOptions opts) : opts_(std::move(opts)) {}
HttpClient::~HttpClient() = default;

std::string HttpClient::Endpoint() const { return opts_.host + ":" + std::to_string(opts_.port); }

Status HttpClient::Connect(std::unique_ptr<Conn>* out) {
  std::string where = "http://" + Endpoint();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return PosixError(where + ": socket", errno);
  auto conn = std::make_unique<Conn>(fd, opts_.io_timeout_ms, where);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(opts_.port));
  if (::inet_pton(AF_INET, opts_.host.c_str(), &addr.sin_addr) != 1) {
    return Status::InvalidArgument("not an IPv4 address: " + opts_.host);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) return PosixError(where + ": connect", errno);
    struct pollfd p = {fd, POLLOUT, 0};
    int r;
    do {
      r = ::poll(&p, 1, static_cast<int>(opts_.connect_timeout_ms));
    } while (r < 0 && errno == EINTR);
    if (r == 0) return Status::IoError(where + ": connect: no answer within " +
                                       std::to_string(opts_.connect_timeout_ms / 1000) + " s");
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (r < 0 || err != 0) return PosixError(where + ": connect", r < 0 ? errno : err);
  }
  *out = std::move(conn);
  return Status::OK();
}

std::unique_ptr<HttpClient::Conn> HttpClient::TakeIdle() {
  std::lock_guard<std::mutex> l(mu_);
  while (!idle_.empty()) {
    std::unique_ptr<Conn> c = std::move(idle_.back());
    idle_.pop_back();
    if (!c->Stale()) return c;
  }
  return nullptr;
}

void HttpClient::GiveBack(std::unique_ptr<Conn> c) {
  std::lock_guard<std::mutex> l(mu_);
  if (idle_.size() < opts_.max_idle) idle_.push_back(std::move(c));
}

Status HttpClient::Do(const std::string& method, const std::string& target, const HttpHeaders& headers,
                      std::string_view body, HttpResponse* resp) {
  HttpBodyReader reader = [body](uint64_t offset, size_t n, char* buf, size_t* got) {
    *got = offset >= body.size() ? 0 : std::min<size_t>(n, body.size() - offset);
    if (*got > 0) std::memcpy(buf, body.data() + offset, *got);
    return Status::OK();
  };
  return DoWithReader(method, target, headers, body.size(), reader, resp);
}

Status HttpClient::DoWithReader(const std::string& method, const std::string& target, const HttpHeaders& headers,
                                uint64_t content_length, const HttpBodyReader& reader, HttpResponse* resp) {
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: " + Endpoint() + "\r\n";
  if (!opts_.user.empty()) head += "Authorization: Basic " + Base64Encode(opts_.user + ":" + opts_.password) + "\r\n";
  for (const auto& h : headers) head += h.first + ": " + h.second + "\r\n";
  bool has_body = content_length > 0 || method == "POST" || method == "PUT";
  if (has_body) head += "Content-Length: " + std::to_string(content_length) + "\r\n";
  head += "\r\n";
  bool is_head = method == "HEAD";
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Conn> c = attempt == 0 ? TakeIdle() : nullptr;
    bool pooled = c != nullptr;
    if (!pooled) MAESTRO_RETURN_IF_ERROR(Connect(&c));
    bool got_any = false, reusable = false;
    *resp = HttpResponse();
    Status st = Exchange(c.get(), head, content_length, reader, is_head, resp, &got_any, &reusable);
    if (st.ok()) {
      if (reusable) GiveBack(std::move(c));
      return st;
    }
    // A kept-alive connection the server had closed: send once more on a new one.
    if (!(pooled && !got_any)) return st.Annotate(method + " " + target);
  }
}

Status HttpClient::Exchange(Conn* c, const std::string& head, uint64_t content_length, const HttpBodyReader& reader,
                            bool is_head, HttpResponse* resp, bool* got_any, bool* reusable) {
  Status send_st = c->Send(head);
  std::string piece(kSendPiece, '\0');
  for (uint64_t off = 0; send_st.ok() && off < content_length;) {
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(reader(off, std::min<uint64_t>(kSendPiece, content_length - off), piece.data(), &got));
    if (got == 0) return Status::Internal("request body ended at " + std::to_string(off) + " of " +
                                          std::to_string(content_length) + " bytes");
    send_st = c->Send(std::string_view(piece.data(), got));
    off += got;
  }
  // A server may answer (and close) before taking the whole body: read its answer anyway.
  std::string line;
  Status st = c->ReadLine(&line, got_any);
  if (!st.ok()) return send_st.ok() ? st : send_st;
  *got_any = true;
  if (line.compare(0, 5, "HTTP/") != 0 || line.size() < 12) return Status::IoError(c->where() + ": not an HTTP response: " + line.substr(0, 80));
  resp->status = std::atoi(line.c_str() + 9);
  bool keep = line.compare(0, 8, "HTTP/1.1") == 0;
  for (;;) {
    MAESTRO_RETURN_IF_ERROR(c->ReadLine(&line, got_any));
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    resp->headers.emplace_back(Lower(line.substr(0, colon)), Trim(line.substr(colon + 1)));
  }
  if (Lower(resp->Header("connection")) == "close") keep = false;
  if (!send_st.ok()) keep = false;
  bool no_body = is_head || resp->status == 204 || resp->status == 304 || (resp->status >= 100 && resp->status < 200);
  if (no_body) {
    *reusable = keep;
    return Status::OK();
  }
  if (Lower(resp->Header("transfer-encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      MAESTRO_RETURN_IF_ERROR(c->ReadLine(&line, got_any));
      uint64_t size = 0;
      if (!ParseU64(line.substr(0, line.find(';')), 16, &size)) return Status::IoError(c->where() + ": bad chunk size line");
      if (size == 0) break;
      if (resp->body.size() + size > opts_.max_body_bytes) return Status::IoError(c->where() + ": response body over the limit");
      MAESTRO_RETURN_IF_ERROR(c->ReadExactly(size, &resp->body));
      MAESTRO_RETURN_IF_ERROR(c->ReadLine(&line, got_any));
    }
    do {  // trailers, up to the empty line
      MAESTRO_RETURN_IF_ERROR(c->ReadLine(&line, got_any));
    } while (!line.empty());
  } else if (!resp->Header("content-length").empty()) {
    uint64_t n = 0;
    if (!ParseU64(resp->Header("content-length"), 10, &n)) return Status::IoError(c->where() + ": bad Content-Length");
    if (n > opts_.max_body_bytes) return Status::IoError(c->where() + ": response body over the limit");
    MAESTRO_RETURN_IF_ERROR(c->ReadExactly(n, &resp->body));
  } else {
    keep = false;
    MAESTRO_RETURN_IF_ERROR(c->ReadToClose(opts_.max_body_bytes, &resp->body));
  }
  *reusable = keep;
  return Status::OK();
}

}  // namespace maestro
