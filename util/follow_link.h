// util/follow_link.h — the file or folder a user-given path names, through symlinks.
//
//   ResolvePath      the path as the kernel sees it: realpath() of the longest
//                    part that exists, the rest normalised lexically. No writes.
//   FollowLinkAt     when the last component of *path is a symlink, *path
//                    becomes where it leads: realpath when the target exists;
//                    a dangling link followed by hand, each relative target
//                    taken from its link's real parent folder (as the kernel
//                    does), to where a file or folder would be made. A path
//                    whose last component is no link is left as it is. False
//                    after max_hops links (a loop). Reads only.
//   FollowFinalLink  AbsolutePath(p) for a folder the user names (--root, --repo,
//                    --to REPO), with FollowLinkAt applied (a loop is returned
//                    as it stands: the caller's own checks refuse it). The kernel
//                    follows every component before the last by itself, and
//                    Env::Stat does not follow the last, so a link to a folder (a
//                    backup disk mounted elsewhere) would read as "not a folder".
// Thread-safe; no state.
#pragma once

#include <string>

#include "util/env.h"

namespace maestro {

std::string ResolvePath(const std::string& path);
bool FollowLinkAt(Env* env, std::string* path, int max_hops = 40);
std::string FollowFinalLink(Env* env, const std::string& p);

}  // namespace maestro
