// Google Benchmark micro-benchmarks of the snapshot hot paths (issue 7 point 3):
// hashing, chunking, the zstd compression step, manifest encode/decode.
// Run: build-*/benchmarks/snapshot_micro_bench --benchmark_min_time=0.2s
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <cstring>
#include <random>
#include <string>

#include "snapshot/chunker.h"
#include "snapshot/format.h"
#include "util/hash.h"

namespace maestro {
namespace {

// Half random, half repetitive text: roughly the mix of PDFs and Markdown.
std::string Data(size_t n) {
  std::mt19937_64 rng(7);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    if ((i / 4096) % 2) v = 0x2074786574206120ULL;  // " a text "
    std::memcpy(&s[i], &v, std::min<size_t>(8, n - i));
  }
  return s;
}

void BM_Xxh128(benchmark::State& st) {
  std::string d = Data(static_cast<size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(Xxh128(d));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Xxh128)->Arg(4096)->Arg(1 << 20);

void BM_ChunkFastCdc(benchmark::State& st) {
  std::string d = Data(32 << 20);
  Chunker c;
  for (auto _ : st) {
    size_t pos = 0, n = 0;
    while (pos < d.size()) {
      pos += c.FindCut(reinterpret_cast<const uint8_t*>(d.data() + pos), d.size() - pos);
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(d.size()));
}
BENCHMARK(BM_ChunkFastCdc);

// One pipeline step per chunk: hash, compress (level 3), hash the stored bytes.
void BM_CompressPipeline(benchmark::State& st) {
  std::string d = Data(1 << 20);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(d.size()), '\0');
  for (auto _ : st) {
    Hash128 h = Xxh128(d);
    size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), d.data(), d.size(), 3);
    benchmark::DoNotOptimize(h);
    benchmark::DoNotOptimize(Xxh64(std::string_view(out.data(), n)));
  }
  ZSTD_freeCCtx(cctx);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(d.size()));
}
BENCHMARK(BM_CompressPipeline);

void BM_Decompress(benchmark::State& st) {
  std::string d = Data(1 << 20);
  std::string c(ZSTD_compressBound(d.size()), '\0');
  c.resize(ZSTD_compress(c.data(), c.size(), d.data(), d.size(), 3));
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::string out(d.size(), '\0');
  for (auto _ : st) {
    benchmark::DoNotOptimize(ZSTD_decompressDCtx(dctx, out.data(), out.size(), c.data(), c.size()));
    benchmark::DoNotOptimize(Xxh128(out));
  }
  ZSTD_freeDCtx(dctx);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(d.size()));
}
BENCHMARK(BM_Decompress);

Manifest BigManifest(int files) {
  Manifest m;
  m.info.id = "20250808_143022";
  ManifestStore st;
  st.name = "pdfs";
  st.is_directory = true;
  for (int i = 0; i < files; ++i) {
    ManifestFile f;
    f.path = "raw_pdfs/" + std::to_string(10000000 + i) + "_some_paper_title.pdf";
    f.size = 300000;
    f.chunks = {Hash128{static_cast<uint64_t>(i), 1}};
    st.files.push_back(f);
  }
  m.stores.push_back(st);
  return m;
}

void BM_ManifestEncode(benchmark::State& st) {
  Manifest m = BigManifest(static_cast<int>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(EncodeManifest(m));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_ManifestEncode)->Arg(10000);

void BM_ManifestDecode(benchmark::State& st) {
  std::string enc = EncodeManifest(BigManifest(static_cast<int>(st.range(0))));
  for (auto _ : st) benchmark::DoNotOptimize(DecodeManifest(enc, "bench"));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_ManifestDecode)->Arg(10000);

}  // namespace
}  // namespace maestro

BENCHMARK_MAIN();
