// tests/chroma/maestro_chroma.mjs — drives a real Chroma server the way MAESTRO does,
// for tests/chroma_real_test.cc. Explicit embeddings only: no embedding function is
// configured or downloaded (embeddingFunction: null).
//
//   node maestro_chroma.mjs write PORT DIM DOC_ID:CHUNKS ...   adds chunks "{doc}_{n}"
//        to research_papers_dense and research_papers_sparse (both hnsw:space=cosine);
//        prints {"written": {collection: chunks}}
//   node maestro_chroma.mjs dump PORT DIM                      prints one JSON line:
//        {collection: {count, ids (sorted), query: {probe doc: [top ids]}}}
//
// CHROMA_NPM_DIR is the folder chromadb@3.0.12 was installed into
// (scripts/chroma-setup.sh). Exit 0 on success; any error prints it and exits 1.
import { pathToFileURL } from "node:url";

const npmDir = process.env.CHROMA_NPM_DIR;
if (!npmDir) {
  console.error("CHROMA_NPM_DIR is not set (the folder scripts/chroma-setup.sh installed chromadb into)");
  process.exit(1);
}
const { ChromaClient } = await import(
  pathToFileURL(`${npmDir}/node_modules/chromadb/dist/chromadb.mjs`).href);

const COLLECTIONS = ["research_papers_dense", "research_papers_sparse"];

// A deterministic unit-free vector for (id, collection): a small xorshift stream.
function vectorFor(id, collection, dim) {
  let h = 2166136261;
  for (const c of id + "|" + collection) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  const v = new Array(dim);
  for (let i = 0; i < dim; i++) {
    h ^= h << 13; h >>>= 0; h ^= h >>> 17; h ^= h << 5; h >>>= 0;
    v[i] = (h % 2000) / 1000 - 1;
  }
  return v;
}

async function collection(client, name) {
  return client.getOrCreateCollection({
    name, embeddingFunction: null, metadata: { "hnsw:space": "cosine" } });
}

async function write(client, dim, specs) {
  const written = {};
  for (const name of COLLECTIONS) {
    const col = await collection(client, name);
    const ids = [], embeddings = [], metadatas = [], documents = [];
    for (const spec of specs) {
      const [doc, n] = spec.split(":");
      for (let i = 0; i < Number(n); i++) {
        const id = `${doc}_${i}`;
        ids.push(id);
        embeddings.push(vectorFor(id, name, dim));
        metadatas.push({ doc_id: doc, chunk_id: i, start_paragraph_index: i * 3,
                         end_paragraph_index: i * 3 + 2, title: `Paper ${doc}`, publication_year: 2024 });
        documents.push(`Chunk ${i} of document ${doc} (${name}).`);
      }
    }
    for (let at = 0; at < ids.length; at += 100) {
      const end = at + 100;
      await col.add({ ids: ids.slice(at, end), embeddings: embeddings.slice(at, end),
                      metadatas: metadatas.slice(at, end), documents: documents.slice(at, end) });
    }
    written[name] = ids.length;
  }
  console.log(JSON.stringify({ written }));
}

async function dump(client, dim) {
  const out = {};
  const existing = (await client.listCollections()).map((c) => c.name);
  for (const name of COLLECTIONS) {
    if (!existing.includes(name)) { out[name] = null; continue; }
    const col = await collection(client, name);
    const count = await col.count();
    const got = await col.get({ include: ["metadatas"] });
    const ids = [...got.ids].sort();
    // Probe with each document's chunk 0 vector: the nearest neighbour must be itself.
    const probes = [...new Set(got.metadatas.map((m) => m.doc_id))].sort();
    const query = {};
    if (probes.length > 0) {
      const res = await col.query({
        queryEmbeddings: probes.map((d) => vectorFor(`${d}_0`, name, dim)), nResults: 3 });
      probes.forEach((d, i) => { query[d] = res.ids[i]; });
    }
    out[name] = { count, ids, query };
  }
  console.log(JSON.stringify(out));
}

const [cmd, port, dim, ...rest] = process.argv.slice(2);
try {
  const client = new ChromaClient({ host: "127.0.0.1", port: Number(port), ssl: false });
  if (cmd === "write") await write(client, Number(dim), rest);
  else if (cmd === "dump") await dump(client, Number(dim));
  else throw new Error(`unknown command '${cmd}' (write|dump)`);
} catch (e) {
  console.error(`maestro_chroma.mjs ${cmd}: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
}
