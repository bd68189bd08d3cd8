// tests/http_client_test.cc — util/http_client.h against a scripted server on
// 127.0.0.1: chunked and length-delimited bodies, HEAD, keep-alive retry, and
// the bounded waits (a silent server, a body cut short).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "util/http_client.h"

namespace maestro::testing {
namespace {

// Accepts connections one by one; for each request read, `reply` says what to
// send back and whether to close afterwards.
class ScriptedServer {
 public:
  using Reply = std::function<std::string(int request_no, const std::string& head, bool* close_after)>;
  explicit ScriptedServer(Reply reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Serve() {
    int n = 0;
    while (!stop_) {
      struct pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      ++connections_;
      std::string buf;
      bool close_after = false;
      while (!stop_ && !close_after) {
        struct pollfd q = {c, POLLIN, 0};
        if (::poll(&q, 1, 50) <= 0) continue;
        char tmp[4096];
        ssize_t r = ::recv(c, tmp, sizeof(tmp), 0);
        if (r <= 0) break;
        buf.append(tmp, static_cast<size_t>(r));
        size_t end = buf.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        std::string head = buf.substr(0, end);
        buf.erase(0, end + 4);
        std::string out = reply_(n++, head, &close_after);
        ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }
  Reply reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

HttpClientOptions To(int port, int64_t io_timeout_ms = 5000) {
  HttpClientOptions o;
  o.port = port;
  o.io_timeout_ms = io_timeout_ms;
  o.user = "u";
  o.password = "p";
  return o;
}

TEST(HttpClientTest, ChunkedAndLengthBodiesAreDecodedOnOneKeptAliveConnection) {
  std::string seen_head;
  ScriptedServer s([&](int n, const std::string& head, bool*) {
    seen_head = head;
    if (n == 0) return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n");
    return std::string("HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\nabc");
  });
  HttpClient c(To(s.port()));
  HttpResponse r;
  ASSERT_TRUE(c.Do("GET", "/a", {}, "", &r).ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_NE(seen_head.find("Authorization: Basic dTpw"), std::string::npos) << seen_head;
  ASSERT_TRUE(c.Do("GET", "/b", {{"Range", "bytes=0-2"}}, "", &r).ok());
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(s.connections(), 1) << "the connection was kept alive";
}

TEST(HttpClientTest, HeadResponseHasNoBodyDespiteItsLength) {
  ScriptedServer s([](int, const std::string&, bool*) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n");
  });
  HttpClient c(To(s.port()));
  HttpResponse r;
  ASSERT_TRUE(c.Do("HEAD", "/a", {}, "", &r).ok());
  EXPECT_EQ(r.Header("content-length"), "12345");
  EXPECT_EQ(r.body, "");
  ASSERT_TRUE(c.Do("HEAD", "/a", {}, "", &r).ok()) << "the connection is still in step";
}

TEST(HttpClientTest, PooledConnectionTheServerClosedIsRetriedOnAFreshOne) {
  ScriptedServer s([](int, const std::string&, bool* close_after) {
    *close_after = true;  // answers, then drops the connection without saying so
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  HttpClient c(To(s.port()));
  HttpResponse r;
  ASSERT_TRUE(c.Do("POST", "/x", {}, "body", &r).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(c.Do("POST", "/x", {}, "body", &r).ok());
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(s.connections(), 2);
}

TEST(HttpClientTest, SilentServerFailsWithinTheIoTimeout) {
  ScriptedServer s([](int, const std::string&, bool*) { return std::string(); });  // never answers
  HttpClient c(To(s.port(), 300));
  HttpResponse r;
  auto t0 = std::chrono::steady_clock::now();
  Status st = c.Do("GET", "/slow", {}, "", &r);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_NE(st.message().find("no progress"), std::string::npos) << st.ToString();
  EXPECT_LT(secs, 3.0);
}

TEST(HttpClientTest, BodyCutShortIsAnErrorNotAShortRead) {
  ScriptedServer s([](int, const std::string&, bool* close_after) {
    *close_after = true;
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
  });
  HttpClient c(To(s.port()));
  HttpResponse r;
  Status st = c.Do("GET", "/cut", {}, "", &r);
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_NE(st.message().find("after 10 of 100 body bytes"), std::string::npos) << st.ToString();
}

TEST(HttpClientTest, NobodyListeningIsAnIoErrorNamingTheEndpoint) {
  int port;
  {
    ScriptedServer s([](int, const std::string&, bool*) { return std::string(); });
    port = s.port();
  }
  HttpClient c(To(port));
  HttpResponse r;
  Status st = c.Do("GET", "/", {}, "", &r);
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << st.ToString();
}

TEST(HttpClientTest, Base64AndPercentEncoding) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(PercentEncode("a b/c%.d_~"), "a%20b%2Fc%25.d_~");
}

}  // namespace
}  // namespace maestro::testing
