// tests/backend_conformance.h — the Backend contract (snapshot/backend.h) as a
// typed test any backend instantiates: local folder, rclone remote.
//
// Use: a fixture gives `std::unique_ptr<Backend> MakeBackend()`; then
//   INSTANTIATE_BACKEND_CONFORMANCE(Prefix, FixtureClass);
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/backend.h"
#include "tests/test_util.h"

namespace maestro::testing {

inline std::set<std::string> Names(Backend* b, ObjectKind kind) {
  std::vector<ObjectInfo> list;
  EXPECT_TRUE(b->List(kind, &list).ok());
  std::set<std::string> out;
  for (const ObjectInfo& o : list) out.insert(o.name);
  return out;
}

template <class Fixture>
class BackendConformance : public Fixture {};
TYPED_TEST_SUITE_P(BackendConformance);

TYPED_TEST_P(BackendConformance, PutThenGetReturnsTheSameBytes) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  std::string data = RandomBytes(100000, 1);
  ASSERT_TRUE(b->Put(ObjectKind::kIndex, "0123abcd.idx", data).ok());
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kIndex, "0123abcd.idx", &got).ok());
  EXPECT_EQ(got, data);
  ObjectInfo info;
  ASSERT_TRUE(b->Stat(ObjectKind::kIndex, "0123abcd.idx", &info).ok());
  EXPECT_EQ(info.size, data.size());
}

TYPED_TEST_P(BackendConformance, MissingObjectIsNotFound) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  std::string got;
  EXPECT_TRUE(b->Get(ObjectKind::kManifest, "20260101_000000", &got).IsNotFound());
  ObjectInfo info;
  EXPECT_TRUE(b->Stat(ObjectKind::kManifest, "20260101_000000", &info).IsNotFound());
  EXPECT_TRUE(b->Remove(ObjectKind::kManifest, "20260101_000000").ok());
}

TYPED_TEST_P(BackendConformance, ReadAtReturnsTheRangeAndStopsAtTheEnd) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  std::string data = RandomBytes(70000, 2);
  ASSERT_TRUE(b->Put(ObjectKind::kPack, "aa.pack", data).ok());
  std::string got;
  ASSERT_TRUE(b->ReadAt(ObjectKind::kPack, "aa.pack", 1000, 5000, &got).ok());
  EXPECT_EQ(got, data.substr(1000, 5000));
  ASSERT_TRUE(b->ReadAt(ObjectKind::kPack, "aa.pack", 69000, 5000, &got).ok());
  EXPECT_EQ(got, data.substr(69000));
}

TYPED_TEST_P(BackendConformance, ListNamesEveryObjectOfItsKindOnly) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  ASSERT_TRUE(b->Put(ObjectKind::kManifest, "20260101_000000", "m1").ok());
  ASSERT_TRUE(b->Put(ObjectKind::kManifest, "20260102_000000", "m2").ok());
  ASSERT_TRUE(b->Put(ObjectKind::kKey, "k1", "key").ok());
  EXPECT_EQ(Names(b.get(), ObjectKind::kManifest),
            (std::set<std::string>{"20260101_000000", "20260102_000000"}));
  EXPECT_EQ(Names(b.get(), ObjectKind::kKey), (std::set<std::string>{"k1"}));
  EXPECT_TRUE(Names(b.get(), ObjectKind::kLock).empty());
}

TYPED_TEST_P(BackendConformance, RemoveMakesTheObjectGone) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  ASSERT_TRUE(b->Put(ObjectKind::kLock, "l1", "holder").ok());
  ASSERT_TRUE(b->Remove(ObjectKind::kLock, "l1").ok());
  EXPECT_TRUE(Names(b.get(), ObjectKind::kLock).empty());
}

TYPED_TEST_P(BackendConformance, RemoveManyRemovesEveryNamedObjectAndSkipsMissingOnes) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  for (const char* n : {"a.pack", "b.pack", "c.pack", "kept.pack"}) ASSERT_TRUE(b->Put(ObjectKind::kPack, n, n).ok());
  ASSERT_TRUE(b->RemoveMany(ObjectKind::kPack, {"a.pack", "missing.pack", "b.pack", "c.pack"}).ok());
  EXPECT_EQ(Names(b.get(), ObjectKind::kPack), (std::set<std::string>{"kept.pack"}));
  EXPECT_TRUE(b->RemoveMany(ObjectKind::kPack, {}).ok());
}

TYPED_TEST_P(BackendConformance, WriterPublishesOnlyOnCommit) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  std::string data = RandomBytes(3 << 20, 3);
  {
    std::unique_ptr<ObjectWriter> w;
    ASSERT_TRUE(b->NewWriter(ObjectKind::kPack, "abandoned.pack", &w).ok());
    ASSERT_TRUE(w->Append(data.substr(0, 1000)).ok());
  }  // destroyed uncommitted
  EXPECT_TRUE(Names(b.get(), ObjectKind::kPack).empty());
  std::unique_ptr<ObjectWriter> w;
  ASSERT_TRUE(b->NewWriter(ObjectKind::kPack, "big.pack", &w).ok());
  for (size_t off = 0; off < data.size(); off += 1 << 20) ASSERT_TRUE(w->Append(data.substr(off, 1 << 20)).ok());
  EXPECT_TRUE(Names(b.get(), ObjectKind::kPack).empty()) << "visible before Commit";
  ASSERT_TRUE(w->Commit().ok());
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kPack, "big.pack", &got).ok());
  EXPECT_EQ(got, data);
}

// The repository builds a pack in its local tmp/ before its name (its hash) is
// known, then hands the finished file over.
TYPED_TEST_P(BackendConformance, PutFilePublishesALocalFileWholeAndConsumesIt) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  TempDir scratch;
  std::string data = RandomBytes((2 << 20) + 123, 4);
  std::string local = scratch.Sub("pack-1.tmp-pack");
  WriteFile(local, data);
  ASSERT_TRUE(b->PutFile(ObjectKind::kPack, "ff.pack", Env::Default(), local).ok());
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kPack, "ff.pack", &got).ok());
  EXPECT_EQ(got, data);
  EXPECT_FALSE(Env::Default()->FileExists(local)) << "the local file was left behind";
  EXPECT_EQ(Names(b.get(), ObjectKind::kPack), (std::set<std::string>{"ff.pack"}));
}

// snap copy sends a source pack as it is: the file is the source's, and stays.
TYPED_TEST_P(BackendConformance, PutCopyOfPublishesALocalFileWholeAndLeavesIt) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  TempDir scratch;
  std::string data = RandomBytes((3 << 20) + 77, 5);
  std::string local = scratch.Sub("ee.pack");
  WriteFile(local, data);
  ASSERT_TRUE(b->PutCopyOf(ObjectKind::kPack, "ee.pack", Env::Default(), local).ok());
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kPack, "ee.pack", &got).ok());
  EXPECT_EQ(got, data);
  ASSERT_TRUE(Env::Default()->FileExists(local)) << "the local file was taken";
  EXPECT_EQ(ReadFile(local), data);
  EXPECT_EQ(Names(b.get(), ObjectKind::kPack), (std::set<std::string>{"ee.pack"}));
}

// A local folder whose name is not UTF-8 (the rclone backend names files to
// rclone in JSON): the upload still lands whole, by whichever way the backend has.
TYPED_TEST_P(BackendConformance, PutFileFromAFolderWhoseNameIsNotUtf8Lands) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  TempDir scratch;
  std::string folder = scratch.Sub("tmp-\xff\xfe");
  ASSERT_TRUE(Env::Default()->CreateDir(folder).ok());
  std::string data = RandomBytes((1 << 20) + 5, 6);
  std::string local = folder + "/pack-2.tmp-pack";
  WriteFile(local, data);
  ASSERT_TRUE(b->PutFile(ObjectKind::kPack, "dd.pack", Env::Default(), local).ok());
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kPack, "dd.pack", &got).ok());
  EXPECT_EQ(got, data);
  EXPECT_FALSE(Env::Default()->FileExists(local));
}

TYPED_TEST_P(BackendConformance, ConcurrentPutsAllLand) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&b, t] {
      for (int i = 0; i < 8; ++i) {
        std::string name = "p" + std::to_string(t) + "_" + std::to_string(i) + ".pack";
        Status st = b->Put(ObjectKind::kPack, name, RandomBytes(4096, t * 100 + i));
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(Names(b.get(), ObjectKind::kPack).size(), 32u);
}

TYPED_TEST_P(BackendConformance, NamesThatLeaveTheirFolderAreRefused) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  for (const char* bad : {"", ".", "..", "../config", "a/b", "x.tmp-1-2"}) {
    Status s = b->Put(ObjectKind::kManifest, bad, "x");
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad << ": " << s.ToString();
  }
}

TYPED_TEST_P(BackendConformance, ReadAtTheEndOrPastItIsEmptyAndAMissingObjectIsNotFound) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  ASSERT_TRUE(b->Put(ObjectKind::kPack, "end.pack", std::string(100, 'x')).ok());
  std::string got = "stale";
  Status at_end = b->ReadAt(ObjectKind::kPack, "end.pack", 100, 10, &got);
  ASSERT_TRUE(at_end.ok()) << at_end.ToString();
  EXPECT_EQ(got, "");
  ASSERT_TRUE(b->ReadAt(ObjectKind::kPack, "end.pack", 150, 10, &got).ok());
  EXPECT_EQ(got, "");
  EXPECT_TRUE(b->ReadAt(ObjectKind::kPack, "missing.pack", 0, 10, &got).IsNotFound());
}

// A retry after a lost reply puts the same bytes again: one whole object remains.
TYPED_TEST_P(BackendConformance, SecondPutOfTheSameNameLeavesOneWholeObject) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  std::string data = RandomBytes(50000, 4);
  ASSERT_TRUE(b->Put(ObjectKind::kIndex, "again.idx", data).ok());
  ASSERT_TRUE(b->Put(ObjectKind::kIndex, "again.idx", data).ok());
  std::vector<ObjectInfo> list;
  ASSERT_TRUE(b->List(ObjectKind::kIndex, &list).ok());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "again.idx");
  EXPECT_EQ(list[0].size, data.size());
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kIndex, "again.idx", &got).ok());
  EXPECT_EQ(got, data);
}

TYPED_TEST_P(BackendConformance, ConfigIsOneObjectWithAFixedName) {
  std::unique_ptr<Backend> b = this->MakeBackend();
  EXPECT_TRUE(Names(b.get(), ObjectKind::kConfig).empty());
  ASSERT_TRUE(b->Put(ObjectKind::kConfig, "", "cfg").ok());
  std::vector<ObjectInfo> list;
  ASSERT_TRUE(b->List(ObjectKind::kConfig, &list).ok());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "config");
  EXPECT_EQ(list[0].size, 3u);
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kConfig, "", &got).ok());
  EXPECT_EQ(got, "cfg");
}

REGISTER_TYPED_TEST_SUITE_P(BackendConformance, PutThenGetReturnsTheSameBytes, MissingObjectIsNotFound,
                            ReadAtReturnsTheRangeAndStopsAtTheEnd, ListNamesEveryObjectOfItsKindOnly,
                            RemoveMakesTheObjectGone, RemoveManyRemovesEveryNamedObjectAndSkipsMissingOnes,
                            WriterPublishesOnlyOnCommit,
                            PutFilePublishesALocalFileWholeAndConsumesIt, PutCopyOfPublishesALocalFileWholeAndLeavesIt,
                            PutFileFromAFolderWhoseNameIsNotUtf8Lands, ConcurrentPutsAllLand,
                            NamesThatLeaveTheirFolderAreRefused,
                            ReadAtTheEndOrPastItIsEmptyAndAMissingObjectIsNotFound,
                            SecondPutOfTheSameNameLeavesOneWholeObject, ConfigIsOneObjectWithAFixedName);

#define INSTANTIATE_BACKEND_CONFORMANCE(Prefix, Fixture) \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, BackendConformance, ::testing::Types<Fixture>)

}  // namespace maestro::testing
