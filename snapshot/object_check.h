// snapshot/object_check.h — what an object's name may be, and what it promises
// about the object's bytes (docs/remote.md, "Partial objects").
//
// A remote without atomic rename (an object store, an append-only SFTP
// account) holds objects under their final names while they are being
// uploaded, and keeps a partial one after a crash that rclone could not clean
// up. Readers therefore check every object against its name where the name
// can promise something:
//   packs  "<32 hex>.pack"  the XXH3-128 of the whole object is the hex
//   index  "<32 hex>.idx"   same
//   keys   "<32 hex>"       same (docs/format-4.md)
// Manifests, the config and locks are named by something else (an id, a
// fixed name, a time) and carry their own checksum inside instead
// (snapshot/format.h, snapshot/remote_lock.h): their decoders find a partial
// object. Other names (tests, foreign files) promise nothing.
//
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "snapshot/backend.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

// InvalidArgument unless name is one path component inside its kind's folder:
// not empty, not "." or "..", no '/', no NUL, no ".tmp-" (temporary names are
// the backends' own). kConfig ignores its name.
Status CheckObjectName(ObjectKind kind, const std::string& name);

// True if name promises the hash of the object's bytes (see above); *h set.
bool NamePromisedHash(ObjectKind kind, const std::string& name, Hash128* h);

// Corruption when data does not match what its name promises: names `where`
// (the backend location), the object and both hashes, and says it is a partial
// upload or damage. OK when the name promises nothing.
Status CheckObjectBytes(ObjectKind kind, const std::string& name, std::string_view data, const std::string& where);

// "packs/<name>", "config": the object's path inside the repository.
std::string ObjectPath(ObjectKind kind, const std::string& name);

}  // namespace maestro
