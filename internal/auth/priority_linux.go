package auth

import "syscall"

// hashNice is the scheduling niceness of the password hash helper
// processes: the kernel then gives other work (request handling, the
// database's own processes) the processor first, and a login storm slows
// logins rather than everything else.
const hashNice = 10

// lowerThreadPriority makes the calling OS thread nicer. On Linux
// setpriority with a thread id applies to that thread alone. Raising
// niceness needs no privilege; a refusal (a sandbox) is ignored.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), hashNice)
}
