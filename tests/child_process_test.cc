// tests/child_process_test.cc — util/child_process.h: start, output, bounded
// waits, stop of a child that ignores SIGTERM, the environment it gets.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "util/child_process.h"

namespace maestro::testing {
namespace {

TEST(ChildProcessTest, MissingProgramIsAnIoErrorFromStart) {
  ChildOptions o;
  o.argv = {"no-such-program-maestro"};
  auto c = ChildProcess::Start(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsIoError()) << c.status().ToString();
  EXPECT_NE(c.status().message().find("no-such-program-maestro"), std::string::npos);
}

TEST(ChildProcessTest, ReadyLineIsFoundAndExtraEnvironmentReplacesOurs) {
  ::setenv("MAESTRO_CHILD_TEST", "ours", 1);
  ChildOptions o;
  o.argv = {"sh", "-c", "echo \"value=$MAESTRO_CHILD_TEST\" >&2; sleep 30"};
  o.extra_env = {"MAESTRO_CHILD_TEST=first", "MAESTRO_CHILD_TEST=theirs"};
  auto c = ChildProcess::Start(o);
  ::unsetenv("MAESTRO_CHILD_TEST");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::string line;
  ASSERT_TRUE((*c)->WaitForLine([](const std::string& l) { return l.rfind("value=", 0) == 0; }, 5000, &line).ok());
  EXPECT_EQ(line, "value=theirs");
  EXPECT_TRUE((*c)->Alive());
}

TEST(ChildProcessTest, WaitForLineIsBoundedAndNamesAnEarlyExit) {
  ChildOptions o;
  o.argv = {"sh", "-c", "echo going >&2; exit 3"};
  auto c = ChildProcess::Start(o);
  ASSERT_TRUE(c.ok());
  std::string line;
  Status st = (*c)->WaitForLine([](const std::string& l) { return l == "never"; }, 5000, &line);
  EXPECT_TRUE(st.IsIoError());
  EXPECT_NE(st.message().find("exited with status 3"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("going"), std::string::npos) << st.ToString();

  o.argv = {"sleep", "30"};
  auto quiet = ChildProcess::Start(o);
  ASSERT_TRUE(quiet.ok());
  auto t0 = std::chrono::steady_clock::now();
  st = (*quiet)->WaitForLine([](const std::string&) { return true; }, 200, &line);
  EXPECT_TRUE(st.IsIoError());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
}

TEST(ChildProcessTest, StopKillsAChildThatIgnoresSigterm) {
  ChildOptions o;
  o.argv = {"sh", "-c", "trap '' TERM; echo ready >&2; while :; do sleep 1; done"};
  auto c = ChildProcess::Start(o);
  ASSERT_TRUE(c.ok());
  std::string line;
  ASSERT_TRUE((*c)->WaitForLine([](const std::string& l) { return l == "ready"; }, 5000, &line).ok());
  pid_t pid = (*c)->pid();
  auto t0 = std::chrono::steady_clock::now();
  (*c)->Stop(300);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
  EXPECT_FALSE((*c)->Alive());
  EXPECT_EQ((*c)->ExitDescription(), "killed by signal 9");
  EXPECT_NE(::kill(pid, 0), 0);
}

}  // namespace
}  // namespace maestro::testing
