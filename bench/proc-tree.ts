/**
 * Resident memory and CPU time of a target's whole process tree (a bridge and the servers it
 * spawned), from /proc. `rss` in /proc/<pid>/stat is the same counter as VmRSS in .../status, in
 * pages; reading stat alone gives the parent pid, CPU times and RSS in one read per process.
 *
 * Walking all of /proc costs a few hundred reads, so the tree's membership is refreshed every
 * 500 ms and only its known members are read in between (every 100 ms); a child spawned per session
 * is picked up within half a second.
 */
import fs from 'node:fs';

const PAGE_BYTES = 4096;
const TICKS_PER_SECOND = 100;

interface Stat {
  readonly ppid: number;
  readonly cpuTicks: number;
  readonly rssBytes: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined; // exited
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]), rssBytes: Number(fields[21]) * PAGE_BYTES };
}

/** statm's resident minus shared pages: memory of the process's own (heap, stacks). */
function anonBytes(pid: number): number | undefined {
  try {
    const [, resident, shared] = fs.readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ').map(Number);
    return (resident! - shared!) * PAGE_BYTES;
  } catch {
    return undefined;
  }
}

/** The pid and all its descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(pid); else children.set(stat.ppid, [pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

export interface TreeUsage {
  readonly peakRssBytes: number;
  /** Peak RSS of the root process alone (the bridge or proxy itself, without the servers it runs). */
  readonly peakRootRssBytes: number;
  /** The root's anonymous (heap) part at that peak: the rest is file pages, mostly the node binary, shared. */
  readonly peakRootAnonBytes: number;
  /** CPU seconds used by the tree's processes while sampling (children that exit in between are missed). */
  readonly cpuSeconds: number;
}

/** Several rounds of one cell as one usage: peaks of the peaks, CPU summed. */
export function mergeUsage(usages: readonly TreeUsage[]): TreeUsage {
  const peak = usages.reduce((best, u) => (u.peakRootRssBytes > best.peakRootRssBytes ? u : best), usages[0]!);
  return {
    peakRssBytes: Math.max(...usages.map((u) => u.peakRssBytes)),
    peakRootRssBytes: peak.peakRootRssBytes,
    peakRootAnonBytes: peak.peakRootAnonBytes,
    cpuSeconds: usages.reduce((sum, u) => sum + u.cpuSeconds, 0),
  };
}

export class TreeSampler {
  private members: number[] = [];
  private readonly startTicks = new Map<number, number>();
  private readonly lastTicks = new Map<number, number>();
  private peakRssBytes = 0;
  private peakRootRssBytes = 0;
  private peakRootAnonBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private samples = 0;
  private readonly root: number;

  constructor(root: number) {
    this.root = root;
  }

  start(): void {
    this.members = processTree(this.root);
    this.sample();
    this.timer = setInterval(() => {
      if (++this.samples % 5 === 0) this.members = processTree(this.root);
      this.sample();
    }, 100);
    this.timer.unref();
  }

  stop(): TreeUsage {
    clearInterval(this.timer);
    this.members = processTree(this.root);
    this.sample();
    let ticks = 0;
    for (const [pid, last] of this.lastTicks) ticks += last - (this.startTicks.get(pid) ?? last);
    return { peakRssBytes: this.peakRssBytes, peakRootRssBytes: this.peakRootRssBytes, peakRootAnonBytes: this.peakRootAnonBytes, cpuSeconds: ticks / TICKS_PER_SECOND };
  }

  private sample(): void {
    let rss = 0;
    for (const pid of this.members) {
      const stat = readStat(pid);
      if (!stat) continue;
      rss += stat.rssBytes;
      if (pid === this.root && stat.rssBytes > this.peakRootRssBytes) {
        this.peakRootRssBytes = stat.rssBytes;
        this.peakRootAnonBytes = anonBytes(pid) ?? 0;
      }
      if (!this.startTicks.has(pid)) this.startTicks.set(pid, this.samples === 0 ? stat.cpuTicks : 0);
      this.lastTicks.set(pid, stat.cpuTicks);
    }
    this.peakRssBytes = Math.max(this.peakRssBytes, rss);
  }
}

/** CPU seconds the whole machine spent busy (all processes, all cores) since boot, from /proc/stat. */
export function machineBusySeconds(): number {
  const fields = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / TICKS_PER_SECOND;
}
