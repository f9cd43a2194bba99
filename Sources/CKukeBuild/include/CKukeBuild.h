#ifndef CKUKEBUILD_H
#define CKUKEBUILD_H
/// The Git commit kuke was built from (with "-dirty" when the work tree had changes),
/// or "unknown" when it was built outside a Git checkout. Set by Package.swift.
const char *ckuke_build_commit(void);
#endif
