// util/follow_link.h — the folder a user-given path names, through a symlink.
#pragma once

#include <string>

#include "util/env.h"

namespace maestro {

// AbsolutePath(p) for a folder the user names (--root, --repo, --to REPO):
// when its last component is a symlink, where the link leads (realpath; a
// dangling link: its target, followed up to 40 links). The kernel follows
// every component before the last by itself, and Env::Stat does not follow
// the last, so a link to a folder (a backup disk mounted elsewhere) would
// read as "not a folder". A path whose last component is no link is
// returned as AbsolutePath gives it. Reads only.
std::string FollowFinalLink(Env* env, const std::string& p);

}  // namespace maestro
