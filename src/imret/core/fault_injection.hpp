#pragma once
// Fault injection for the crash tests: every place where imret makes a write
// visible (a rename, a folder swap, a checkpoint unit step) calls
// commit_point(name). With IMRET_FAULT_AT=N in the environment the process
// kills itself with SIGKILL at the N-th commit point (counted from 1), exactly
// as `kill -9` would: no destructor, no clean-up. IMRET_FAULT_TRACE=1 prints
// each point's number and name to stderr, so a test can count them.
// Without those variables a commit point costs one branch.
namespace imret {

void commit_point(const char* name);

}  // namespace imret
