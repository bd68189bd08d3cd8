// tests/demo_install.h — a small demo install (tools/demo/demo.h) in a
// temporary folder, for the tests of the jobs that run on one (the scheduled
// service, off-site copies): its layout, its schedule state file and the
// snapshots of its repository; DemoService, the scheduled service with the
// real jobs on one, on a test clock. Header-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/schedule/schedule.h"
#include "engine/schedule/schedule_jobs.h"
#include "engine/schedule/schedule_notify.h"
#include "engine/stores/layout.h"
#include "snapshot/repository.h"
#include "tests/support/clock_env.h"
#include "tests/test_util.h"
#include "tools/demo/demo.h"

namespace maestro::testing {

struct DemoInstall {
  TempDir dir;
  std::string root;
  DemoSummary demo;

  // Two users, `documents` documents of two chunks and 2 KiB PDFs, made at
  // `now`; inconsistent: with the planted issues `check` finds.
  DemoInstall(int64_t now, int documents, bool inconsistent) : root(dir.Sub("root")) {
    DemoOptions o;
    o.users = 2;
    o.documents = documents;
    o.chunks_per_doc = 2;
    o.pdf_kib = 2;
    o.inconsistent = inconsistent;
    o.now_micros = now;
    auto d = CreateDemo(Env::Default(), root, o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (d.ok()) demo = *d;
  }
  Layout layout() const {
    auto l = Layout::Discover(Env::Default(), root, nullptr);
    EXPECT_TRUE(l.ok());
    return *l;
  }
  std::string state_path() const { return JoinPath(layout().repo(), kScheduleStateFile); }
  std::vector<SnapshotInfo> Snapshots() const {
    auto repo = Repository::Open(Env::Default(), layout().repo(), false);
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    if (!repo.ok()) return {};
    auto list = (*repo)->List();
    EXPECT_TRUE(list.ok());
    return list.ok() ? *list : std::vector<SnapshotInfo>{};
  }
};

// The scheduled service with the real jobs (engine/schedule/schedule_jobs.h)
// on a demo install: its clock a ManualClockEnv at `now`, the repository
// prepared for it, its log kept in memory. A test sets cfg, then Start()
// makes and starts the Scheduler (its state file in the install's repository).
struct DemoService {
  DemoService(const DemoInstall& inst, int64_t now)
      : layout(inst.layout()), env(Env::Default(), now), log(&env, nullptr) {
    Status s = PrepareScheduleRepository(&env, layout);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  // slice_micros: the scheduler's sleep slice (0 keeps its own); notify: the
  // failures go to cfg's [notify] command.
  Scheduler& Start(int64_t slice_micros = 0, bool notify = false) {
    sched = std::make_unique<Scheduler>(&env, cfg, MakeScheduleJobs(layout), &log,
                                        JoinPath(layout.repo(), kScheduleStateFile));
    if (notify) sched->set_notify(MakeCommandNotifier(cfg, &log));
    if (slice_micros > 0) sched->set_sleep_slice_micros(slice_micros);
    Status s = sched->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return *sched;
  }

  Layout layout;
  ManualClockEnv env;
  EventLog log;
  ScheduleConfig cfg;
  std::unique_ptr<Scheduler> sched;
};

}  // namespace maestro::testing
