// tests/demo_install.h — a small demo install (tools/demo/demo.h) in a
// temporary folder, for the tests of the jobs that run on one (the scheduled
// service, off-site copies): its layout, its schedule state file and the
// snapshots of its repository. Header-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/schedule/schedule.h"
#include "engine/stores/layout.h"
#include "snapshot/repository.h"
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

}  // namespace maestro::testing
