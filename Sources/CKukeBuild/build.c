#include "CKukeBuild.h"
#ifndef KUKE_COMMIT
#define KUKE_COMMIT "unknown"
#endif
// A C target of its own, so that a new commit recompiles this file alone.
const char *ckuke_build_commit(void) { return KUKE_COMMIT; }
