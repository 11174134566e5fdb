// Preloaded into every node scripts/cluster.mjs starts (`node --import <this file> ...`): the node
// stops when the launcher goes away, however it went, so a launcher killed with SIGKILL (or its
// terminal closed, or `timeout`) leaves no node running.
//
// How: the launcher starts each node with stdin a pipe whose write end only the launcher holds and
// never writes to or closes. When the launcher exits, for any reason including SIGKILL, the kernel
// closes that end, and reading stdin here sees end-of-file. The node then sends itself SIGTERM, so
// its own handler runs the usual controlled shutdown; if that has not ended the process within
// `stopDeadlineMs`, it is killed. Pure Node, no native helper: PR_SET_PDEATHSIG would need one, and
// polling the parent pid would notice late (and could be fooled by pid reuse).

/** Controlled shutdown takes up to 10 s to hand leaderships over; then the rest closes. */
const stopDeadlineMs = 30_000;

let stopping = false;
function launcherGone() {
  if (stopping) return;
  stopping = true;
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), stopDeadlineMs).unref();
}

const stdin = process.stdin;
stdin.on('end', launcherGone);
stdin.on('close', launcherGone);
// A read error means the same thing: the other end is gone.
stdin.on('error', launcherGone);
stdin.resume();
// Watching stdin must not by itself keep a node that finished alive.
stdin.unref?.();
