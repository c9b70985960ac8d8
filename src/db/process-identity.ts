import fs from "node:fs/promises";

/** A process as the OS knows it: its pid, and when it started (pids are reused once a process is gone). */
export interface ProcessId {
  pid: number;
  /** Epoch seconds; undefined where the OS does not tell (outside Linux). */
  startedAt: number | undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive but owned by another OS user (the postgres user, when we run as root).
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * When the process `pid` started, in epoch seconds, from Linux's /proc; undefined elsewhere. A pid is
 * reused once its process is gone: the start time tells the first process from a later one.
 */
export async function processStartedAt(pid: number): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    const boot = /^btime (\d+)$/m.exec(await fs.readFile("/proc/stat", "utf8"))?.[1];
    // Field 22, counted after the command name (which may hold spaces), in clock ticks since boot; Linux
    // reports ticks to user space at USER_HZ, 100 on every architecture Node runs on.
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    if (boot === undefined || !Number.isFinite(ticks)) return undefined;
    return Number(boot) + ticks / 100;
  } catch {
    return undefined;
  }
}

export async function currentProcess(): Promise<ProcessId> {
  return { pid: process.pid, startedAt: await processStartedAt(process.pid) };
}

/** True while the very process `p` names still runs (not a later one under the same pid). */
export async function stillRuns(p: ProcessId): Promise<boolean> {
  if (!isAlive(p.pid)) return false;
  if (p.startedAt === undefined) return true;
  const now = await processStartedAt(p.pid);
  return now === undefined || Math.abs(now - p.startedAt) < 1;
}
