// Issue 15 point 9: a pack writer whose backend publishes by upload keeps
// several packs uploading at once while it fills the next (Backend::
// ParallelPuts), and util/TaskGroup, the bounded runner behind it. The backend
// here is the real local one with a slow PutFile in front (an upload's round
// trip), so the overlap is visible in wall time and in the calls in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "snapshot/pack_writer.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "tests/test_util.h"
#include "util/hash.h"
#include "util/task_group.h"

namespace maestro {
namespace {

using testing::RandomBytes;
using testing::TempDir;

// The local backend, with PutFile taking 300 ms (an upload), counting the calls
// in flight, and failing the PutFile number fail_at (1-based; 0 = never).
class SlowUploads final : public Backend {
 public:
  SlowUploads(std::unique_ptr<Backend> inner, int parallel, int fail_at = 0)
      : inner_(std::move(inner)), parallel_(parallel), fail_at_(fail_at) {}
  std::string Location() const override { return inner_->Location(); }
  Status Put(ObjectKind k, const std::string& n, std::string_view d) override { return inner_->Put(k, n, d); }
  Status NewWriter(ObjectKind k, const std::string& n, std::unique_ptr<ObjectWriter>* out) override {
    return inner_->NewWriter(k, n, out);
  }
  Status PutFile(ObjectKind k, const std::string& n, Env* env, const std::string& path) override {
    int now = ++in_flight_;
    for (int seen = max_in_flight_.load(); now > seen && !max_in_flight_.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Status st = ++calls_ == fail_at_ ? Status::IoError("the remote refused to upload " + n + " (test)")
                                     : inner_->PutFile(k, n, env, path);
    --in_flight_;
    return st;
  }
  int ParallelPuts() const override { return parallel_; }
  Status Get(ObjectKind k, const std::string& n, std::string* out) override { return inner_->Get(k, n, out); }
  Status ReadAt(ObjectKind k, const std::string& n, uint64_t off, size_t len, std::string* out) override {
    return inner_->ReadAt(k, n, off, len, out);
  }
  Status Stat(ObjectKind k, const std::string& n, ObjectInfo* info) override { return inner_->Stat(k, n, info); }
  Status List(ObjectKind k, std::vector<ObjectInfo>* out) override { return inner_->List(k, out); }
  Status Remove(ObjectKind k, const std::string& n) override { return inner_->Remove(k, n); }

  int max_in_flight() const { return max_in_flight_.load(); }
  int calls() const { return calls_.load(); }

 private:
  std::unique_ptr<Backend> inner_;
  const int parallel_, fail_at_;
  std::atomic<int> in_flight_{0}, max_in_flight_{0}, calls_{0};
};

class PackUploadTest : public ::testing::Test {
 protected:
  void Open(int parallel, int fail_at = 0) {
    backend_ = std::make_unique<SlowUploads>(NewLocalBackend(Env::Default(), tmp_.Sub("repo")), parallel, fail_at);
    files_ = std::make_unique<RepoFiles>(Env::Default(), backend_.get(), tmp_.Sub("repo"));
    ASSERT_TRUE(files_->EnsureScratch().ok());
  }
  // Adds 4 MiB blobs until `packs` packs (16 MiB each) were closed, plus one blob
  // in a last, open pack; returns the blob ids, in order.
  std::vector<Hash128> Fill(PackWriter* sink, int packs, Status* st) {
    std::vector<Hash128> ids;
    for (int i = 0; i < packs * 4 + 1 && st->ok(); ++i) {
      std::string blob = RandomBytes(4u << 20, static_cast<uint32_t>(100 + i));
      ids.push_back(Xxh128(blob));
      *st = sink->Add(ids.back(), static_cast<uint32_t>(blob.size()), blob);
    }
    return ids;
  }
  size_t PacksOnTheBackend() {
    std::vector<ObjectInfo> packs;
    EXPECT_TRUE(backend_->List(ObjectKind::kPack, &packs).ok());
    return packs.size();
  }
  TempDir tmp_;
  std::unique_ptr<SlowUploads> backend_;
  std::unique_ptr<RepoFiles> files_;
};

TEST_F(PackUploadTest, PacksUploadAtOnceUpToTheBackendsParallelPutsAndAllArrive) {
  Open(/*parallel=*/3);
  PackWriter sink(*files_, "none");
  Status st;
  std::vector<Hash128> ids = Fill(&sink, 6, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(sink.Finish().ok());
  EXPECT_EQ(backend_->calls(), 7);  // 6 full packs and the last one
  // Overlap is counted, not timed (a wall-clock bound failed under TSan).
  EXPECT_GE(backend_->max_in_flight(), 2) << "no two uploads overlapped";
  EXPECT_LE(backend_->max_in_flight(), 3) << "more uploads at once than the backend asked for";
  std::set<Hash128> indexed;
  for (const auto& e : sink.entries()) indexed.insert(e.blob);
  EXPECT_EQ(indexed, std::set<Hash128>(ids.begin(), ids.end()));
  EXPECT_EQ(PacksOnTheBackend(), 7u);
}

TEST_F(PackUploadTest, ALocalBackendStillPublishesEachPackBeforeTheNextIsFilled) {
  Open(/*parallel=*/1);
  PackWriter sink(*files_, "none");
  Status st;
  Fill(&sink, 3, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(sink.Finish().ok());
  EXPECT_EQ(backend_->max_in_flight(), 1);
  EXPECT_EQ(PacksOnTheBackend(), 4u);
}

TEST_F(PackUploadTest, AFailedBackgroundUploadFailsTheWriterAndItsPackIsNotIndexed) {
  Open(/*parallel=*/3, /*fail_at=*/2);
  PackWriter sink(*files_, "none");
  Status st;
  Fill(&sink, 6, &st);  // a later Add may already see the failure
  Status fin = sink.Finish();
  Status first = st.ok() ? fin : st;
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.ToString().find("refused to upload"), std::string::npos) << first.ToString();
  EXPECT_FALSE(fin.ok()) << "Finish reported success after a failed upload";
  // Every pack the entries name is on the backend, whole; the failed one is not named.
  std::set<Hash128> packs;
  for (const auto& e : sink.entries()) packs.insert(e.pack);
  EXPECT_EQ(packs.size(), PacksOnTheBackend());
  for (const Hash128& p : packs) {
    ObjectInfo info;
    EXPECT_TRUE(backend_->Stat(ObjectKind::kPack, PackName(p), &info).ok()) << p.Hex();
  }
  EXPECT_LT(backend_->calls(), 7) << "uploads went on after one failed";
}

// `snap copy` Stats every pack of an index piece for the length its publish
// sent before the piece is written; a refused piece keeps its entries and
// their packs' lengths for the next try.
TEST_F(PackUploadTest, PublishIndexChecksEveryPackWithItsFullLengthAndARefusedPieceIsKept) {
  Open(/*parallel=*/1);
  PackWriter sink(*files_, "none");
  Status st;
  Fill(&sink, 2, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(sink.Finish().ok());
  const size_t entries = sink.unindexed();
  std::map<Hash128, uint64_t> seen;
  auto refuse = [&](const std::map<Hash128, uint64_t>& sizes) {
    seen = sizes;
    return Status::IoError("a pack arrived short (test)");
  };
  EXPECT_TRUE(sink.PublishIndex(refuse).IsIoError());
  EXPECT_EQ(seen.size(), 3u) << "the check was not shown every pack of the piece";
  EXPECT_EQ(sink.unindexed(), entries) << "a refused piece lost its entries";
  seen.clear();
  ASSERT_TRUE(sink.PublishIndex([&](const std::map<Hash128, uint64_t>& sizes) {
                    seen = sizes;
                    return Status::OK();
                  }).ok());
  ASSERT_EQ(seen.size(), 3u) << "the retry was not shown the refused piece's packs";
  for (const auto& [pack, size] : seen) {
    ObjectInfo info;
    ASSERT_TRUE(backend_->Stat(ObjectKind::kPack, PackName(pack), &info).ok()) << pack.Hex();
    EXPECT_EQ(size, info.size) << pack.Hex();
  }
  EXPECT_EQ(sink.unindexed(), 0u);
}

TEST(TaskGroupTest, RunsAtMostNAtOnceAndWaitSeesEveryTaskEnd) {
  TaskGroup g(2);
  std::atomic<int> running{0}, most{0}, done{0};
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(g.Run([&] {
                   int now = ++running;
                   for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
                   }
                   std::this_thread::sleep_for(std::chrono::milliseconds(50));
                   --running;
                   ++done;
                   return Status::OK();
                 })
                    .ok());
  }
  ASSERT_TRUE(g.Wait().ok());
  EXPECT_EQ(done.load(), 6);
  EXPECT_EQ(most.load(), 2);
}

TEST(TaskGroupTest, AfterAFailureNoMoreTasksStartAndTheFirstErrorIsReturned) {
  TaskGroup g(1);
  ASSERT_TRUE(g.Run([] { return Status::IoError("first"); }).ok());
  bool ran = false;
  // One at a time: this Run waits for the first task, then sees its error.
  Status st = g.Run([&] {
    ran = true;
    return Status::OK();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("first"), std::string::npos) << st.ToString();
  Status w = g.Wait();
  EXPECT_NE(w.ToString().find("first"), std::string::npos) << w.ToString();
  EXPECT_FALSE(ran) << "a task was started after one had failed";
}

TEST(TaskGroupTest, DestructorWaitsForTasksInFlight) {
  std::atomic<bool> finished{false};
  {
    TaskGroup g(3);
    ASSERT_TRUE(g.Run([&] {
                   std::this_thread::sleep_for(std::chrono::milliseconds(100));
                   finished = true;
                   return Status::OK();
                 })
                    .ok());
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace maestro
