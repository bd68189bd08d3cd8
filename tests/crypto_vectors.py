#!/usr/bin/env python3
"""tests/crypto_vectors.py: the known-answer vectors of tests/crypto_test.cc's
KeyedHashBlobIdOfAKnownChunkIsStable and VersionOneAes256GcmSealedObjectStillOpens,
made outside maestro-db's code (Python's hashlib and the `cryptography` package),
so the test checks the construction of docs/encryption.md, not only that the code
agrees with itself. Run: python3 tests/crypto_vectors.py (prints both vectors).
"""
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER = bytes(range(64))  # crypto_test.cc CountingKey()
ENC_KEY, ID_KEY = MASTER[:32], MASTER[32:]

# XXH3-128 of b"chunk" (libxxhash XXH3_128bits: high64, low64); Python has no XXH3.
HIGH64, LOW64 = 0xB62C2B5A85EAA5BE, 0xA79E0B74B79BB855


def keyed_hash_blob_id():
    msg = struct.pack("<QQQ", HIGH64, LOW64, len(b"chunk"))
    out = hashlib.blake2b(msg, digest_size=16, key=ID_KEY, person=b"MDB-xxh3-blobid1").digest()
    hi, lo = struct.unpack("<QQ", out)
    return "%016x%016x" % (hi, lo)  # Hash128::Hex


def aes_sealed_manifest():
    # crypto_kdf_derive_from_key(32, 1, "MDBAESGC", enc key): BLAKE2b, salt = u64le id, person = context.
    aes_key = hashlib.blake2b(b"", digest_size=32, key=ENC_KEY, salt=struct.pack("<Q", 1) + bytes(8),
                              person=b"MDBAESGC" + bytes(8)).digest()
    nonce = bytes(range(0xA0, 0xA0 + 24))
    object_key = hashlib.blake2b(nonce, digest_size=32, key=aes_key).digest()
    header = b"MDBE" + bytes([1, 2, 0, 0]) + nonce
    name = b"20261201_020000"
    ad = header + bytes([5]) + struct.pack("<I", len(name)) + name  # domain 5 = manifest
    sealed = AESGCM(object_key).encrypt(nonce[:12], b"maestro-db sealed object test vector", ad)
    return (header + sealed).hex()


if __name__ == "__main__":
    print("KeyedHashBlobId(CountingKey, \"chunk\") =", keyed_hash_blob_id())
    print("AES-256-GCM sealed manifest =", aes_sealed_manifest())
